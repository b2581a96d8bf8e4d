// The configuration loader, as serve/render/review use it (YAML, of which JSON is a subset): the
// input is written to a file and loaded. Also the JSON path alone: json::parse then parse_config
// and the render checks. Anything may fail with an error; nothing may crash, leak or take long.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <rapidjson/document.h>

#include "app/config_file.hpp"
#include "common/json_parse.hpp"
#include "policy/config_parse.hpp"
#include "policy/render/render.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

const std::filesystem::path& scratch_file() {
  static const std::filesystem::path path = [] {
    const std::filesystem::path dir =
        std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    return dir / ("mlnetpol-config-fuzz-" + std::to_string(::getpid()) + ".yaml");
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  mlnetpol::fuzz::run_within_budget(size, [&] {
    {
      std::ofstream out(scratch_file(), std::ios::binary | std::ios::trunc);
      out << text;
    }
    const auto loaded = mlnetpol::app::load_config_file(scratch_file());
    if (!loaded && loaded.error().message.empty()) {
      mlnetpol::fuzz::invariant_failed("a failed load without an error", text);
    }
    rapidjson::Document document;
    if (mlnetpol::json::parse(document, text)) {
      const auto parsed = mlnetpol::policy::parse_config(document);
      if (parsed.errors.empty()) (void)mlnetpol::policy::validate_render_config(parsed.value);
    }
  });
  return 0;
}
