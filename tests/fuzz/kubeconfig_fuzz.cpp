// A kubeconfig as the controller reads it (relative paths resolved against a folder that does not
// exist, so nothing outside the input is read). Built once the k8s library exists.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "k8s/client.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  mlnetpol::fuzz::run_within_budget(
      size, [&] { (void)mlnetpol::k8s::parse_kubeconfig(yaml, "/nonexistent/mlnetpol-fuzz"); });
  return 0;
}
