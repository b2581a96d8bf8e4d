// One line of a Kubernetes watch stream, decoded as the controller decodes it; and the same text as
// an object's metadata. Errors are fine; crashes, leaks and slow inputs are not. Built once the
// k8s library (k8s/CMakeLists.txt, the reconciler work) exists.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "k8s/client.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  mlnetpol::fuzz::run_within_budget(size, [&] {
    (void)mlnetpol::k8s::decode_watch_event(line);
    (void)mlnetpol::k8s::decode_object_meta(line);
  });
  return 0;
}
