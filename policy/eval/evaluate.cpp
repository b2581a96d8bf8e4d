#include "policy/eval/evaluate.hpp"

#include <algorithm>

#include "policy/fqdn.hpp"

namespace mlnetpol::policy::eval {
namespace {

std::string_view entity_name(entity e) {
  switch (e) {
    case entity::world:
      return "world";
    case entity::cluster:
      return "cluster";
    case entity::host:
      return "host";
    case entity::remote_node:
      return "remote-node";
    case entity::kube_apiserver:
      return "kube-apiserver";
    case entity::all:
      return "all";
  }
  return "world";
}

std::string policy_text(const policy& p) {
  return std::string(to_string(p.kind)) + " " +
         (p.namespace_name.empty() ? "" : p.namespace_name + "/") + p.name;
}

bool entity_matches(entity want, const endpoint& e) {
  switch (want) {
    case entity::all:
      return true;
    case entity::world:
      return e.p == nullptr && !e.special;
    case entity::cluster:
      return e.p != nullptr || e.special.has_value();
    default:
      return e.special == want;
  }
}

// Whether the peer matches endpoint `e`; when it does not and `why` is set, says why.
bool peer_matches(const peer& q, const endpoint& e, const evaluator& ev, std::string* why) {
  auto no = [&](std::string text) {
    if (why != nullptr) *why = q.text + ": " + std::move(text);
    return false;
  };
  switch (q.what) {
    case peer::kind::pods: {
      if (e.p == nullptr) return no(e.text() + " is not a pod");
      const std::string& ns = e.p->namespace_name;
      if (q.cilium) {
        if (!q.policy_namespace.empty() && ns != q.policy_namespace)
          return no("namespace " + ns + " is not the policy's namespace " + q.policy_namespace +
                    " (add io.kubernetes.pod.namespace to select another)");
        const label_map& view = e.cilium != nullptr ? *e.cilium : e.p->labels;
        if (!q.pod_selector->matches(view))
          return why == nullptr ? false : no(e.text() + " " + q.pod_selector->mismatch(view));
        return true;
      }
      if (q.namespace_selector) {
        const label_map* labels = ev.namespace_labels(ns);
        static const label_map none;
        if (!q.namespace_selector->matches(labels != nullptr ? *labels : none))
          return why == nullptr
                     ? false
                     : no("namespace " + ns + " " +
                          q.namespace_selector->mismatch(labels != nullptr ? *labels : none));
      } else if (ns != q.policy_namespace) {
        return no("namespace " + ns + " is not the policy's namespace " + q.policy_namespace);
      }
      if (q.pod_selector && !q.pod_selector->matches(e.p->labels))
        return why == nullptr ? false
                              : no("pod " + e.text() + " " + q.pod_selector->mismatch(e.p->labels));
      return true;
    }
    case peer::kind::ip_block: {
      if (e.p != nullptr)
        return no(e.text() + " is a pod; address blocks match peers outside the pod network");
      if (!e.ip) return no(e.text() + " has no address to match (give the IP)");
      if (!q.block->contains(*e.ip)) return no(e.ip_text + " is outside " + q.block->text);
      for (const auto& x : q.except)
        if (x.contains(*e.ip)) return no(e.ip_text + " is in the exception " + x.text);
      return true;
    }
    case peer::kind::entity:
      if (entity_matches(q.ent, e)) return true;
      return no(e.text() + " is not " + std::string(entity_name(q.ent)));
    case peer::kind::fqdn:
      if (e.host.empty()) return no(e.text() + " has no DNS name to match (give the host name)");
      if (fqdn_entry_matches(q.fqdn, e.host)) return true;
      return no(e.host + " does not match " + q.fqdn);
    case peer::kind::service:
      if (e.service_name == q.service_name && e.service_namespace == q.service_namespace)
        return true;
      return no(e.text() + " is not that Service");
  }
  return false;
}

bool proto_matches(protocol rule, protocol asked) {
  return rule == protocol::any || rule == asked;
}

// Whether a port rule allows the query's port; named ports resolve on the destination pod.
bool port_matches(const port_rule& pr, const query& q) {
  if (!proto_matches(pr.proto, q.proto)) return false;
  if (!pr.named.empty()) {
    if (q.to.p == nullptr) return false;
    for (const auto& cp : q.to.p->ports)
      if (cp.name == pr.named && proto_matches(pr.proto, cp.proto) && cp.proto == q.proto)
        return cp.port == q.port;
    return false;
  }
  if (pr.port == 0) return true;
  if (pr.end_port > 0) return q.port >= pr.port && q.port <= pr.end_port;
  return q.port == pr.port;
}

struct rule_result {
  bool peer_ok = false, port_ok = false;
  std::vector<std::string> why, notes;
};

rule_result eval_rule(const rule& r, const endpoint& other, const query& q, const evaluator& ev,
                      bool explain) {
  rule_result out;
  if (r.all_ports || q.port == 0) {
    out.port_ok = true;
    if (explain && q.port == 0 && !r.all_ports) {
      std::string list;
      for (const auto& pr : r.ports) list += (list.empty() ? "" : ", ") + pr.text();
      out.notes.push_back("only on " + list);
    }
  } else {
    for (const auto& pr : r.ports) {
      if (!port_matches(pr, q)) continue;
      out.port_ok = true;
      if (explain && !pr.dns.empty()) {
        std::string names;
        for (const auto& d : pr.dns) names += (names.empty() ? "" : ", ") + d;
        out.notes.push_back("DNS queries limited to " + names + " (L7 DNS rule)");
      }
      break;
    }
    if (!out.port_ok && explain) {
      std::string list;
      for (const auto& pr : r.ports) list += (list.empty() ? "" : ", ") + pr.text();
      out.why.push_back("port " + std::string(to_string(q.proto)) + "/" + std::to_string(q.port) +
                        " is not in [" + list + "]");
    }
  }
  if (r.all_peers) {
    out.peer_ok = true;
  } else {
    std::vector<std::string> peer_why;
    for (const auto& p : r.peers) {
      std::string why;
      if (peer_matches(p, other, ev, explain ? &why : nullptr)) {
        out.peer_ok = true;
        break;
      }
      if (explain) peer_why.push_back(std::move(why));
    }
    if (!out.peer_ok && explain) {
      if (peer_why.empty()) peer_why.push_back("the rule names no peer: it allows nothing");
      out.why.insert(out.why.begin(), peer_why.begin(), peer_why.end());
    }
  }
  return out;
}

}  // namespace

std::string endpoint::text() const {
  if (p != nullptr) return p->namespace_name + "/" + p->name;
  if (special) return std::string(entity_name(*special));
  if (!service_name.empty()) return service_name + "." + service_namespace + ".svc";
  if (!host.empty()) return ip_text.empty() ? host : host + " (" + ip_text + ")";
  return ip_text.empty() ? "(unknown)" : ip_text;
}

evaluator::evaluator(const cluster& c) : c_(c) {
  for (const auto& ns : c.namespaces) namespaces_[ns.name] = &ns;
  for (const auto& p : c.pods) {
    pods_[p.namespace_name + "/" + p.name] = &p;
    if (namespaces_.count(p.namespace_name) == 0) {
      implied_.push_back({p.namespace_name, {{"kubernetes.io/metadata.name", p.namespace_name}}});
      namespaces_[p.namespace_name] = &implied_.back();
    }
  }
  for (std::size_t i = 0; i < c.policies.size(); ++i) {
    if (c.policies[i].kind == policy_kind::cilium_clusterwide)
      clusterwide_.push_back(i);
    else
      policies_by_namespace_[c.policies[i].namespace_name].push_back(i);
  }
  cilium_views_.reserve(c.pods.size());
  for (const auto& p : c.pods)
    cilium_views_.push_back(cilium_labels(p, namespace_labels(p.namespace_name)));
}

const pod* evaluator::find_pod(std::string_view ns, std::string_view name) const {
  const auto it = pods_.find(std::string(ns) + "/" + std::string(name));
  return it == pods_.end() ? nullptr : it->second;
}

const label_map* evaluator::namespace_labels(std::string_view ns) const {
  const auto it = namespaces_.find(std::string(ns));
  return it == namespaces_.end() ? nullptr : &it->second->labels;
}

endpoint evaluator::pod_endpoint(const pod& p) const {
  endpoint e;
  e.p = &p;
  if (!c_.pods.empty() && &p >= &c_.pods.front() && &p <= &c_.pods.back()) {
    e.cilium = &cilium_views_[static_cast<std::size_t>(&p - &c_.pods.front())];
  }
  return e;
}

endpoint evaluator::pod_endpoint(const pod& p, label_map& view) const {
  view = cilium_labels(p, namespace_labels(p.namespace_name));
  endpoint e;
  e.p = &p;
  e.cilium = &view;
  return e;
}

std::vector<const policy*> evaluator::candidates(const std::string& ns) const {
  static const std::vector<std::size_t> none;
  const auto it = policies_by_namespace_.find(ns);
  const std::vector<std::size_t>& local = it == policies_by_namespace_.end() ? none : it->second;
  std::vector<const policy*> out;
  out.reserve(local.size() + clusterwide_.size());
  auto a = local.begin();
  auto b = clusterwide_.begin();
  while (a != local.end() || b != clusterwide_.end()) {
    const bool take_local = b == clusterwide_.end() || (a != local.end() && *a < *b);
    out.push_back(&c_.policies[take_local ? *a++ : *b++]);
  }
  return out;
}

std::vector<const policy*> evaluator::selecting(const endpoint& e, bool ingress) const {
  std::vector<const policy*> out;
  if (e.p == nullptr) return out;
  for (const policy* candidate : candidates(e.p->namespace_name)) {
    const policy& pol = *candidate;
    const bool relevant =
        ingress ? (pol.isolates_ingress || !pol.ingress.empty() || !pol.ingress_deny.empty())
                : (pol.isolates_egress || !pol.egress.empty() || !pol.egress_deny.empty());
    if (!relevant) continue;
    const bool selects = pol.kind == policy_kind::network_policy
                             ? pol.subject.matches(e.p->labels)
                             : pol.subject.matches(e.cilium != nullptr ? *e.cilium : e.p->labels);
    if (selects) out.push_back(&pol);
  }
  return out;
}

direction_answer evaluator::decide(const endpoint& side, const endpoint& other, const query& q,
                                   bool ingress, const std::vector<const policy*>& policies,
                                   bool explain) const {
  direction_answer d;
  if (side.p == nullptr) return d;  // outside the pod network: no policy of the cluster applies
  d.evaluated = true;
  bool any_allow = false, any_deny = false;
  for (const policy* pol : policies) {
    d.isolated = d.isolated || (ingress ? pol->isolates_ingress : pol->isolates_egress);
    if (!explain && any_deny) break;
    policy_answer pa;
    pa.pol = pol;
    for (const auto& r : ingress ? pol->ingress_deny : pol->egress_deny) {
      const auto rr = eval_rule(r, other, q, *this, false);
      if (rr.peer_ok && rr.port_ok) {
        pa.eff = policy_answer::effect::denies;
        pa.rule = r.path;
        any_deny = true;
        break;
      }
    }
    if (pa.eff != policy_answer::effect::denies) {
      const auto& rules = ingress ? pol->ingress : pol->egress;
      int best = -1;
      for (const auto& r : rules) {
        if (!explain && any_allow) break;
        auto rr = eval_rule(r, other, q, *this, explain);
        if (rr.peer_ok && rr.port_ok) {
          pa.eff = policy_answer::effect::allows;
          pa.rule = r.path;
          pa.notes = std::move(rr.notes);
          pa.mismatches.clear();
          any_allow = true;
          break;
        }
        const int score = (rr.peer_ok ? 1 : 0) + (rr.port_ok ? 1 : 0);
        if (explain && score > best) {
          best = score;
          pa.rule = r.path;
          pa.mismatches = std::move(rr.why);
        }
      }
      if (explain && rules.empty()) {
        pa.mismatches.push_back(std::string("it has no ") + (ingress ? "ingress" : "egress") +
                                " allow rules: it only isolates the pod");
      }
    }
    if (explain) {
      for (const auto& u : pol->unsupported) d.unsupported.push_back(policy_text(*pol) + ": " + u);
      d.policies.push_back(std::move(pa));
    }
  }
  d.allowed = !any_deny && (!d.isolated || any_allow);
  return d;
}

void evaluator::near_misses(const endpoint& side, const endpoint& other, const query& q,
                            bool ingress, direction_answer& d) const {
  if (!d.evaluated || d.allowed) return;
  for (const policy* candidate : candidates(side.p->namespace_name)) {
    const policy& pol = *candidate;
    const label_map& view = pol.kind == policy_kind::network_policy || side.cilium == nullptr
                                ? side.p->labels
                                : *side.cilium;
    if (pol.subject.matches(view)) continue;
    for (const auto& r : ingress ? pol.ingress : pol.egress) {
      const auto rr = eval_rule(r, other, q, *this, false);
      if (!rr.peer_ok || !rr.port_ok) continue;
      policy_answer pa;
      pa.pol = &pol;
      pa.eff = policy_answer::effect::not_selected;
      pa.rule = r.path;
      pa.mismatches.push_back(side.text() + " " + pol.subject.mismatch(view));
      d.not_selecting.push_back(std::move(pa));
      break;
    }
  }
}

answer evaluator::explain(const query& q) const {
  answer a;
  a.egress = decide(q.from, q.to, q, false, selecting(q.from, false), true);
  a.ingress = decide(q.to, q.from, q, true, selecting(q.to, true), true);
  near_misses(q.from, q.to, q, false, a.egress);
  near_misses(q.to, q.from, q, true, a.ingress);
  a.allowed = a.egress.allowed && a.ingress.allowed;
  return a;
}

bool evaluator::allowed(const query& q, const std::vector<const policy*>& egress_policies,
                        const std::vector<const policy*>& ingress_policies) const {
  return decide(q.from, q.to, q, false, egress_policies, false).allowed &&
         decide(q.to, q.from, q, true, ingress_policies, false).allowed;
}

}  // namespace mlnetpol::policy::eval
