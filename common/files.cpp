#include "common/files.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

namespace mlnetpol::files {

result<std::string> read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(path.string() + ": cannot open: " + std::strerror(errno));
  std::string out{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return fail(path.string() + ": cannot read: " + std::strerror(errno));
  return out;
}

result<void> write_atomically(const std::filesystem::path& path, std::string_view bytes,
                              std::filesystem::perms mode) {
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return fail(tmp.string() + ": " + std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) return fail(tmp.string() + ": write error");
  }
  std::error_code ec;
  std::filesystem::permissions(tmp, mode, ec);
  if (ec) return fail(tmp.string() + ": " + ec.message());
  std::filesystem::rename(tmp, path, ec);
  if (ec) return fail(path.string() + ": " + ec.message());
  return {};
}

}  // namespace mlnetpol::files
