#pragma once
// The captured AdmissionReview requests (tests/fixtures/admission), for every test folder that
// feeds them to the decoder: the admission tests and the allocation counts.
#include <algorithm>
#include <filesystem>
#include <vector>

namespace mlnetpol::testing {

inline std::filesystem::path admission_fixture_dir() {
  return std::filesystem::path(MLNETPOL_FIXTURES_DIR) / "admission";
}

// Every captured AdmissionReview request (headers.json holds the HTTP headers, not a review).
inline std::vector<std::filesystem::path> review_fixtures() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(admission_fixture_dir())) {
    const auto& path = entry.path();
    if (path.extension() == ".json" && path.filename() != "headers.json") files.push_back(path);
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace mlnetpol::testing
