#pragma once
// What to do next, for errors a new user meets first. Text only, so every command can print it.
#include <string>

namespace mlnetpol::app {

// For `serve` when the serving certificate or key cannot be read: how to make them, for a local
// run and for the cluster. The caller prints it after its own error line.
std::string missing_certificate_hint(const std::string& cert_file, const std::string& key_file);

}  // namespace mlnetpol::app
