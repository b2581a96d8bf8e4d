// The manifests `review`, `explain` and `matrix` read (YAML or JSON, several documents, Lists
// expanded): any text gives Kubernetes objects or an error that names the source. Nothing may
// crash, leak or take long: yaml-cpp's aliases (cycles, bombs) included.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "app/manifest_documents.hpp"
#include "common/json.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  mlnetpol::fuzz::run_within_budget(
      size,
      [&] {
        const auto objects = mlnetpol::app::manifest_objects(text, "fuzz.yaml");
        if (!objects) {
          if (objects.error().message.rfind("fuzz.yaml", 0) != 0) {
            mlnetpol::fuzz::invariant_failed("an error that does not name its source", text);
          }
          return;
        }
        for (const auto& o : *objects) {
          if (o.source.rfind("fuzz.yaml#", 0) != 0 || o.object == nullptr ||
              !o.object->IsObject() ||
              mlnetpol::json::string_member(*o.object, "apiVersion").empty() ||
              mlnetpol::json::string_member(*o.object, "kind").empty()) {
            mlnetpol::fuzz::invariant_failed("an object without its source, apiVersion or kind",
                                             text);
          }
        }
      },
      2);  // YAML is parsed twice: once for the events LoadAll would loop on, once into nodes
  return 0;
}
