#include "common/obs/metrics.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>

using namespace mlnetpol::obs;

TEST_CASE("label values are escaped") {
  labeled_counter c{"kind"};
  c.add({"Bad\"Kind\\\n"});
  std::string out;
  c.render(out, "x_total");
  CHECK(out == "x_total{kind=\"Bad\\\"Kind\\\\\\n\"} 1\n");
  CHECK(c.series() == 1);
}

TEST_CASE("a series found once is the one add and render use") {
  labeled_counter c{"kind", "op"};
  std::atomic<std::uint64_t>& pods = c.series({"Pod", "CREATE"});
  CHECK(&pods == &c.series({"Pod", "CREATE"}));
  CHECK(&pods != &c.series({"Pod", "UPDATE"}));
  pods.fetch_add(2);
  c.add({"Pod", "CREATE"});
  CHECK(c.value({"Pod", "CREATE"}) == 3);
  CHECK(c.series() == 2);
  std::string out;
  c.render(out, "x_total");
  CHECK(out == "x_total{kind=\"Pod\",op=\"CREATE\"} 3\nx_total{kind=\"Pod\",op=\"UPDATE\"} 0\n");
}

TEST_CASE("the registry renders each owner's families in registration order, while registered") {
  registry r;
  auto first = std::make_optional(r.add(
      [](std::string& out) { append_single(out, "a_total", "counter", "A.", std::uint64_t{1}); }));
  auto second = r.add([](std::string& out) { append_single(out, "b", "gauge", "B.", 2.5); });
  CHECK(r.render() ==
        "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"
        "# HELP b B.\n# TYPE b gauge\nb 2.5\n");
  first.reset();  // the owner went away
  CHECK(r.render() == "# HELP b B.\n# TYPE b gauge\nb 2.5\n");
}

TEST_CASE("histogram buckets are cumulative") {
  histogram h;
  h.observe(0.0003);
  h.observe(3.0);
  std::string out;
  h.render(out, "d", "w=\"x\"");
  CHECK(out.find("d_bucket{w=\"x\",le=\"0.0005\"} 1\n") != std::string::npos);
  CHECK(out.find("d_bucket{w=\"x\",le=\"2.5\"} 1\n") != std::string::npos);
  CHECK(out.find("d_bucket{w=\"x\",le=\"+Inf\"} 2\n") != std::string::npos);
  CHECK(out.find("d_count{w=\"x\"} 2\n") != std::string::npos);
}

TEST_CASE("a histogram keeps the bounds it was made with; bounds read in fixed notation") {
  static constexpr std::array<double, 3> bounds{0.0001, 0.5, 10};
  histogram h(bounds);
  h.observe(0.00005);
  h.observe(0.5);
  h.observe(7);
  h.observe(11);
  std::string out;
  h.render(out, "r", "");  // no labels: no braces on _sum and _count, le alone on buckets
  CHECK(out ==
        "r_bucket{le=\"0.0001\"} 1\n"
        "r_bucket{le=\"0.5\"} 2\n"
        "r_bucket{le=\"10\"} 3\n"
        "r_bucket{le=\"+Inf\"} 4\n"
        "r_sum 18.50005\n"
        "r_count 4\n");
}

TEST_CASE("the default histogram's bounds are the admission latencies, 0.1 ms to 2.5 s") {
  histogram h;
  std::string out;
  h.render(out, "d", "w=\"x\"");
  CHECK(out.starts_with("d_bucket{w=\"x\",le=\"0.0001\"} 0\nd_bucket{w=\"x\",le=\"0.00025\"} 0\n"));
  CHECK(out.find("le=\"2.5\"} 0\nd_bucket{w=\"x\",le=\"+Inf\"} 0\n") != std::string::npos);
  CHECK(std::count(out.begin(), out.end(), '\n') == histogram::latency_bounds.size() + 3);
}

TEST_CASE("unlabelled counters and gauges; timestamps are Unix seconds") {
  counter c;
  c.add();
  c.add(2);
  CHECK(c.value() == 3);
  gauge<std::int64_t> in_flight;
  in_flight.add(2);
  in_flight.add(-1);
  CHECK(in_flight.value() == 1);
  gauge<double> when;
  CHECK(when.value() == 0);
  when.set(unix_seconds_now());
  CHECK(when.value() > 1.7e9);  // after November 2023
  CHECK(when.value() <= unix_seconds_now());
}

TEST_CASE("one sample line: with labels written before, with one label escaped here, or none") {
  std::string out;
  append_sample(out, "a_total", R"(x="1",y="2")", std::uint64_t{3});
  append_sample(out, "b", "kind", "Bad\"Kind", std::int64_t{-4});
  append_sample(out, "c", {}, 0.5);
  CHECK(out == "a_total{x=\"1\",y=\"2\"} 3\nb{kind=\"Bad\\\"Kind\"} -4\nc 0.5\n");
}
