#pragma once
// Helpers shared by the admission tests: fixture files and an independent JSON view (nlohmann).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

namespace mlnetpol::admission::testing {

inline std::filesystem::path fixture_dir() {
  return std::filesystem::path(MLNETPOL_FIXTURES_DIR) / "admission";
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::string fixture(const std::string& name) {
  return read_file(fixture_dir() / name);
}

// Every captured AdmissionReview request (headers.json holds the HTTP headers, not a review).
inline std::vector<std::filesystem::path> review_fixtures() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(fixture_dir())) {
    const auto& path = entry.path();
    if (path.extension() == ".json" && path.filename() != "headers.json") files.push_back(path);
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace mlnetpol::admission::testing
