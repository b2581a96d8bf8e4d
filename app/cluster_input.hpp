#pragma once
// What `explain`, `matrix` and `flows` judge: Namespaces, Pods and network policies from files
// (`-f FILE|DIR|-`, as kubectl reads them), the set mlnetpol renders for a configuration
// (`--config`), or the live cluster (`--kubeconfig`, or in-cluster with none of the others).
#include <optional>
#include <string>
#include <vector>

#include "common/flags.hpp"
#include "common/result.hpp"
#include "policy/config.hpp"
#include "policy/eval/model.hpp"

namespace mlnetpol::app {

struct cluster_sources {
  std::vector<std::string> files;
  std::string config_path;  // "" none
  std::string kubeconfig;   // "" none
};

// Declares -f/--filename (repeatable), --config and --kubeconfig on a command's parser.
void add_cluster_flags(flags::parser& p, cluster_sources& sources);

struct loaded_cluster {
  policy::eval::cluster data;
  std::optional<policy::config> cfg;  // when --config was given
  bool live = false;
};

// Reads every source; an error names the file, document or API call. With no source at all it
// reads the live cluster when running in a pod, else fails saying what to give.
result<loaded_cluster> load_cluster(const cluster_sources& sources);

// The objects of text (YAML or JSON documents, Lists) into the cluster; `source` names the file.
result<void> add_cluster_text(policy::eval::cluster& c, std::string_view text,
                              const std::string& source);
// The policies mlnetpol renders for the configuration.
result<void> add_rendered(policy::eval::cluster& c, const policy::config& cfg);

}  // namespace mlnetpol::app
