// The JSON Patch builder and applier. The input is split by FuzzedDataProvider into label and
// annotation entries (paths from a small vocabulary plus fuzzed tokens with '/' and '~') and an
// object (JSON text). Invariants, for objects without repeated member names: a built patch is a
// JSON array that the applier applies, after which every entry (the last for a key) holds its
// value, and building again on the patched object gives no patch. The rest of the input is also
// applied as a patch of its own to a fixed object (the applier on arbitrary patches).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "admission/json_patch.hpp"
#include "common/json.hpp"
#include "common/json_parse.hpp"
#include "policy/labels.hpp"
#include "policy/mutation.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

namespace admission = mlnetpol::admission;
namespace json = mlnetpol::json;
namespace policy = mlnetpol::policy;
using mlnetpol::fuzz::has_duplicate_names;
using mlnetpol::fuzz::invariant_failed;

std::string token(FuzzedDataProvider& in) {
  static const char* const words[] = {"metadata", "spec", "template", "labels", "annotations",
                                      "a/b",      "~0~1", "",         "0",      "-"};
  if (in.ConsumeBool()) return words[in.ConsumeIntegralInRange<std::size_t>(0, 9)];
  return in.ConsumeRandomLengthString(16);
}

void check_builder(FuzzedDataProvider& in) {
  std::vector<policy::map_entry> entries(in.ConsumeIntegralInRange<std::size_t>(0, 8));
  for (auto& e : entries) {
    const std::size_t depth = in.ConsumeIntegralInRange<std::size_t>(0, 4);
    for (std::size_t i = 0; i < depth; ++i) e.metadata_path.push_back(token(in));
    e.map_name = in.ConsumeBool() ? "labels" : token(in);
    e.key = token(in);
    e.value = in.ConsumeRandomLengthString(16);
  }
  const std::string text = in.ConsumeRandomLengthString(in.remaining_bytes());
  rapidjson::Document object;
  if (!json::parse(object, text)) return;
  const auto built = admission::patch_for_entries(object, entries);
  if (!built || built->empty() || has_duplicate_names(object)) return;
  // Entries hold valid UTF-8 in the server (keys from the decoded, checked request or the
  // configuration); a patch of other bytes is not JSON the applier (or the API server) reads.
  for (const auto& e : entries) {
    bool valid = !json::find_invalid_utf8(e.map_name) && !json::find_invalid_utf8(e.key) &&
                 !json::find_invalid_utf8(e.value);
    for (const auto& step : e.metadata_path) valid = valid && !json::find_invalid_utf8(step);
    if (!valid) return;
  }

  rapidjson::Document patched;
  patched.CopyFrom(object, patched.GetAllocator());
  if (auto applied = admission::apply_patch(patched, *built); !applied) {
    invariant_failed("a built patch does not apply", applied.error().message + "\n" + *built);
  }
  std::map<std::vector<std::string>, std::string> want;  // path + map + key -> last value
  for (const auto& e : entries) {
    std::vector<std::string> at(e.metadata_path.begin(), e.metadata_path.end());
    at.push_back(e.map_name);
    at.push_back(e.key);
    want[at] = e.value;
  }
  for (const auto& [path, value] : want) {
    const rapidjson::Value* v = &patched;
    for (const auto& step : path) v = mlnetpol::json::json_member(v, step);
    if (mlnetpol::json::json_string(v) != value || v == nullptr || !v->IsString()) {
      invariant_failed("an entry is missing after the patch", *built);
    }
  }
  const auto again = admission::patch_for_entries(patched, entries);
  if (!again || !again->empty())
    invariant_failed("building on the patched object patches again", *built);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mlnetpol::fuzz::run_within_budget(size, [&] {
    FuzzedDataProvider in(data, size);
    check_builder(in);
    // The whole input as a patch of a small object.
    rapidjson::Document target;
    target.Parse(R"({"metadata":{"labels":{"a":"b"},"x":[1,2,3]},"spec":null})");
    (void)admission::apply_patch(target,
                                 std::string_view(reinterpret_cast<const char*>(data), size));
  });
  return 0;
}
