#pragma once
// Files for tests: whole-file reads and writes and a scratch directory removed afterwards (the one
// copy every test folder uses).
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace mlnetpol::testing {

// The whole file, or "" when it cannot be read (a test that needs it compares and fails).
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The whole file; throws when it cannot be opened (a missing fixture fails the test that needs it).
inline std::string read_required(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// A fresh directory under the system's temporary directory, removed with everything in it.
struct temp_dir {
  std::filesystem::path path;
  explicit temp_dir(const std::string& prefix = "mlnetpol-test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::system_error(errno, std::generic_category());
    path = pattern;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// A file holding text in a fresh temp_dir, removed with it (a configuration, a manifest).
struct temp_file {
  explicit temp_file(const std::string& text, const std::string& name = "config.yaml")
      : path(dir.path / name) {
    write_text(path, text);
  }
  temp_dir dir;  // first: path is made from it
  std::filesystem::path path;
};

}  // namespace mlnetpol::testing
