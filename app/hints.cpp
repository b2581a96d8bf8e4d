#include "app/hints.hpp"

#include <filesystem>

namespace mlnetpol::app {

std::string missing_certificate_hint(const std::string& cert_file, const std::string& key_file) {
  const std::filesystem::path dir = std::filesystem::path(cert_file).parent_path();
  const std::string out = dir.empty() ? "." : dir.string();
  return "serve needs a serving certificate and key (--tls-cert-file " + cert_file +
         ", --tls-key-file " + key_file +
         "). Make them with:\n"
         "  mlnetpol certs --dev --out " +
         out +
         "        # a local run (valid for localhost and 127.0.0.1)\n"
         "  mlnetpol certs --out manifests/certs  # the cluster, for overlays/external\n"
         "then pass the files with --tls-cert-file and --tls-key-file. In the cluster, "
         "--cert-management=self (overlays/standard) needs no files "
         "(docs/install-and-rollout.md).";
}

}  // namespace mlnetpol::app
