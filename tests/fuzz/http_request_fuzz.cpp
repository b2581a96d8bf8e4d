// The HTTP request parser the server reads requests with, fed the input in chunks of fuzzed sizes
// (as reads split it), with the server's header and body limits.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "server/options.hpp"
#include "server/http_parser.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mlnetpol::fuzz::run_within_budget(size, [&] {
    FuzzedDataProvider in(data, size);
    const mlnetpol::server::options limits;
    mlnetpol::server::request_head head;
    mlnetpol::server::request_body body;
    mlnetpol::server::request_parser parser(head, body);
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    std::string pending;
    while (in.remaining_bytes() > 0 && !parser.is_done()) {
      pending += in.ConsumeBytesAsString(in.ConsumeIntegralInRange<std::size_t>(1, 512));
      boost::system::error_code ec;
      const std::size_t used = parser.put(boost::asio::buffer(pending), ec);
      if (ec == boost::beast::http::error::need_more) continue;
      if (ec) return;
      pending.erase(0, used);
    }
    if (parser.is_done() && body.size() > limits.max_body_bytes) {
      mlnetpol::fuzz::invariant_failed("a body over the limit was accepted", head.target);
    }
  });
  return 0;
}
