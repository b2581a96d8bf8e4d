#pragma once
// The one whole-file reader and its atomic writer counterpart.
#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace mlnetpol::files {

// The whole file (following symlinks, as a Secret volume swaps them); the error names the path:
// "<path>: cannot open: <reason>".
result<std::string> read(const std::filesystem::path& path);

// Writes to a temporary file beside path, then renames it over path, so readers never see half.
result<void> write_atomically(const std::filesystem::path& path, std::string_view bytes,
                              std::filesystem::perms mode);

}  // namespace mlnetpol::files
