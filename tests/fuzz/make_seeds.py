#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora: the project's fixtures plus generated, size-aware inputs
(big label maps, many replica specs, many containers, deep nesting, long scalars), each as big as
the sanitizer-and-coverage build decides within the 10 ms budget with linear code, so mutations
start from the sizes where super-linear code shows (tests/admission/linear_time_test.cpp covers
bodies of megabytes in an optimised build).

Usage: make_seeds.py OUT_DIR   (writes OUT_DIR/<fuzzer>/<name>)"""
import glob
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def write(out, target, name, data):
    folder = os.path.join(out, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(data)


def review(kind, group, operation, obj, old=None, namespace='ml-training'):
    return json.dumps({
        'apiVersion': 'admission.k8s.io/v1', 'kind': 'AdmissionReview',
        'request': {
            'uid': 'f0c5e6a4-0000-4000-8000-000000000001',
            'kind': {'group': group, 'version': 'v1', 'kind': kind},
            'resource': {'group': group, 'version': 'v1', 'resource': kind.lower() + 's'},
            'namespace': namespace, 'name': 'seed', 'operation': operation,
            'userInfo': {'username': 'alice', 'groups': ['system:authenticated']},
            'object': obj, 'oldObject': old, 'dryRun': False}}, separators=(',', ':'))


def deployment(labels, containers=1):
    return {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'seed'},
            'spec': {'template': {'metadata': {'labels': labels},
                                  'spec': {'containers': [{'name': 'c%d' % i, 'image': 'x'}
                                                          for i in range(containers)]}}}}


def pytorchjob(n, labelled=False):
    specs = {}
    for i in range(n):
        labels = {'app': 'a%d' % i}
        if labelled:
            labels['workload-type'] = 'training'
        specs['r%d' % i] = {'replicas': 1, 'template': {
            'metadata': {'labels': labels},
            'spec': {'containers': [{'name': 'pytorch', 'image': 'pytorch:2'}]}}}
    return {'apiVersion': 'kubeflow.org/v1', 'kind': 'PyTorchJob', 'metadata': {'name': 'seed'},
            'spec': {'pytorchReplicaSpecs': specs}}


def fixtures(patterns):
    for pattern in patterns:
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            if os.path.basename(path) == 'headers.json':
                continue
            with open(path, 'rb') as f:
                yield os.path.basename(path), f.read()


def review_seeds(out):
    t = 'review_handlers_fuzz'
    for name, data in fixtures(['examples/*.json', '../shared/fixtures/admission/*.json']):
        write(out, t, name, data)
    labels = {'k%d' % i: 'v%d' % i for i in range(300)}
    d = deployment(labels)
    write(out, t, 'deployment-update-300-labels.json', review('Deployment', 'apps', 'UPDATE', d, d))
    write(out, t, 'deployment-create-100-containers.json',
          review('Deployment', 'apps', 'CREATE', deployment({}, 100)))
    job = pytorchjob(40)
    write(out, t, 'pytorchjob-create-40-specs.json', review('PyTorchJob', 'kubeflow.org', 'CREATE', job))
    write(out, t, 'pytorchjob-update-40-specs.json',
          review('PyTorchJob', 'kubeflow.org', 'UPDATE', job, pytorchjob(40, True)))
    write(out, t, 'pytorchjob-update-mlops.json',
          review('PyTorchJob', 'kubeflow.org', 'UPDATE', pytorchjob(3), pytorchjob(3), 'mlops'))
    pod = {'apiVersion': 'v1', 'kind': 'Pod',
           'metadata': {'name': 'seed', 'labels': labels,
                        'annotations': {'a%d' % i: 'x' * 20 for i in range(200)}},
           'spec': {'hostNetwork': True, 'containers': [{'name': 'c', 'image': 'x'}]}}
    write(out, t, 'pod-create-big-maps.json', review('Pod', '', 'CREATE', pod))
    write(out, t, 'pod-create-long-label.json', review('Pod', '', 'CREATE', {
        'metadata': {'name': 'p', 'labels': {'workload-type': 'x' * 20000}}, 'spec': {}}))
    deep = 'null'
    for _ in range(100):
        deep = '{"d":[' + deep + ']}'
    write(out, t, 'pod-create-deep.json', review('Pod', '', 'CREATE', {'metadata': {'name': 'p'},
                                                                      'spec': {}}).replace(
        '"spec":{}', '"spec":' + deep))
    ns = {'apiVersion': 'v1', 'kind': 'Namespace',
          'metadata': {'name': 'ml-training', 'labels': {'mlnetpol.io/enforcement': 'audit'}}}
    write(out, t, 'namespace-update.json', review('Namespace', '', 'UPDATE', ns, ns, ''))
    netpol = {'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy',
              'metadata': {'name': 'default-deny', 'labels': {'app.kubernetes.io/managed-by': 'mlnetpol'}}}
    write(out, t, 'networkpolicy-delete-managed.json',
          review('NetworkPolicy', 'networking.k8s.io', 'DELETE', None, netpol))


def deep_yaml():
    """Nesting at and past the YAML depth check (common/yaml_depth.hpp, 256 levels) in every form
    it counts, and brackets that are text: yaml-cpp recurses per level, so these stay fast only
    because the check refuses what is deep before yaml-cpp parses it."""
    brackets = '[' * 3000
    return [
        ('deep-flow-seq.yaml', '[' * 3822),  # the fuzz stage's slow artifact
        ('deep-flow-map.yaml', '{a: ' * 2000 + '}' * 2000),
        ('deep-flow-at-limit.yaml', '[' * 127 + ']' * 127),
        ('deep-compact-seq.yaml', 'a:\n' + '- ' * 2000 + 'x\n'),
        ('deep-compact-keys.yaml', '? ' * 2000 + 'x\n'),
        ('deep-block-maps.yaml', ''.join(' ' * i + 'k:\n' for i in range(600))),
        ('deep-value-chain.yaml', 'a:\n' + ':\n' * 2000),
        ('deep-flow-values.yaml', '{a: ' + ': ' * 2000 + 'b}'),
        ('brackets-in-text.yaml', 'a: "' + brackets + '"\nb: \'' + brackets + "''x'\nc: |\n  " +
         brackets + '\nd: x' + brackets + ' # ' + brackets + '\n'),
    ]


def config_seeds(out):
    t = 'config_loader_fuzz'
    for name, data in fixtures(['examples/config.yaml', 'tests/render/configs/*.yaml']):
        write(out, t, name, data)
    write(out, t, 'digits.yaml', 'training_metrics_ports: [' + '9' * 30000 + ']\nlabel_key: ' + '1' * 30000 + '\n')
    write(out, t, 'many-namespaces.yaml',
          'ml_training_namespaces:\n' + ''.join('  - ns-%d\n' % i for i in range(1000)))
    write(out, t, 'many-keys.yaml', ''.join('unknown_%d: %d\n' % (i, i) for i in range(60)))
    write(out, t, 'config.json', json.dumps({
        'cilium_mode': True, 'enforcement_mode': 'audit', 'ml_training_namespaces': ['a', 'b'],
        'training_egress_fqdns': ['*.example.com'], 'api_server_cidrs': ['10.0.0.0/8'],
        'ingress_controller_pods': [{'namespace': 'ingress', 'labels': {'app': 'x'}}]}))
    write(out, t, 'deep.yaml', '[' * 1000 + ']' * 1000)
    for name, data in deep_yaml():
        write(out, t, name, data)


def patch_seeds(out):
    t = 'json_patch_fuzz'
    for name, data in fixtures(['examples/pod-*.json']):
        write(out, t, name, json.dumps(json.loads(data)['request']['object']))
    write(out, t, 'patch.json', '[{"op":"add","path":"/metadata/labels/a~1b","value":"x"},'
                                '{"op":"replace","path":"/metadata/x/1","value":{}},'
                                '{"op":"remove","path":"/metadata/x/-"}]')
    write(out, t, 'big-object.json', json.dumps(pytorchjob(300)))


def http_seeds(out):
    t = 'http_request_fuzz'
    body = review('Pod', '', 'CREATE', {'metadata': {'name': 'p'}, 'spec': {}})
    write(out, t, 'post.http', 'POST /mutate?timeout=10s HTTP/1.1\r\nHost: x\r\nContent-Type: '
                               'application/json\r\nContent-Length: %d\r\n\r\n%s' % (len(body), body))
    write(out, t, 'chunked.http', 'POST /validate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'
                                  '%x\r\n%s\r\n0\r\n\r\n' % (len(body), body))
    write(out, t, 'many-headers.http', 'GET /healthz HTTP/1.1\r\n' + 'X-A: b\r\n' * 500 + '\r\n')


def watch_seeds(out):
    t = 'watch_event_fuzz'
    meta = {'name': 'ml-training', 'resourceVersion': '12',
            'labels': {'mlnetpol.io/secured': 'true'}}
    for kind in ('ADDED', 'MODIFIED', 'DELETED'):
        write(out, t, kind.lower() + '.json',
              json.dumps({'type': kind, 'object': {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': meta}}))
    write(out, t, 'bookmark.json', json.dumps({'type': 'BOOKMARK', 'object': {'metadata': {'resourceVersion': '9'}}}))
    write(out, t, 'error.json', json.dumps({'type': 'ERROR', 'object': {
        'kind': 'Status', 'code': 410, 'reason': 'Expired', 'message': 'too old resource version'}}))
    write(out, t, 'big-labels.json', json.dumps({'type': 'ADDED', 'object': {'metadata': {
        'name': 'n', 'labels': {'k%d' % i: 'v' for i in range(2000)}}}}))


def kubeconfig_seeds(out):
    t = 'kubeconfig_fuzz'
    write(out, t, 'kubeconfig.yaml', '''apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
users:
- name: u
  user:
    token: abc
''')
    for name, data in deep_yaml():
        write(out, t, name, data)


def alias_yaml():
    """Aliases: one inside the node it names, and a bomb of 10^6 values in a few hundred bytes."""
    yield 'alias-cycle.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: &m {name: x, labels: *m}\n'
    bomb = 'l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n' + ''.join(
        'l%d: &l%d [%s]\n' % (i, i, ', '.join(['*l%d' % (i - 1)] * 10)) for i in range(1, 6))
    yield 'alias-bomb.yaml', 'apiVersion: v1\nkind: ConfigMap\n' + bomb
    yield 'alias-bomb-empty.yaml', 'apiVersion: v1\nkind: ConfigMap\n' + bomb.replace('a, ', '[], ').replace(', a]', ', []]')


def manifest_seeds(out):
    t = 'manifest_documents_fuzz'
    for name, data in fixtures(['examples/manifests/*.yaml', 'examples/*.json']):
        write(out, t, name, data)
    write(out, t, 'list.yaml', 'apiVersion: v1\nkind: List\nitems:\n' + ''.join(
        '- {apiVersion: v1, kind: Pod, metadata: {name: p%d}}\n' % i for i in range(200)))
    write(out, t, 'documents.yaml', ''.join(
        '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n%d}\n' % i for i in range(200)))
    write(out, t, 'anchors.yaml', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: &m {name: a}\n'
          'spec:\n  template:\n    metadata: *m\n    spec:\n      containers:\n'
          '      - &c {name: c, image: x, env: [{name: A, value: "1"}]}\n      - *c\n')
    for name, data in alias_yaml():
        write(out, t, name, data)
        write(out, 'config_loader_fuzz', name, data)
    for name, data in deep_yaml():
        write(out, t, name, data)


def main():
    out = sys.argv[1]
    manifest_seeds(out)
    review_seeds(out)
    config_seeds(out)
    patch_seeds(out)
    http_seeds(out)
    watch_seeds(out)
    kubeconfig_seeds(out)


if __name__ == '__main__':
    main()
