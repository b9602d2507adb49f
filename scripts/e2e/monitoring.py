#!/usr/bin/env python3
"""Prometheus for the end-to-end run, derived from what the chart ships.

  config   reads `helm template` output (stdin) and writes a prometheus.yml whose
           scrape jobs select exactly what the chart's PodMonitor and ServiceMonitor
           select (the same translation the Prometheus Operator makes: label keeps,
           the named port, the path, namespace/pod/container target labels), with the
           chart's alert rule file loaded and Alertmanager as the receiver.
  discover Debian builds Prometheus without kubernetes_sd_configs, so this loop plays
           its part: every 2 s it lists pods and endpoints from the apiserver and
           writes file_sd target files carrying the same __meta_kubernetes_* labels
           the kubernetes discovery would (roles pod and endpoints); the relabelling
           of `config` then selects from them exactly as it would in a real cluster.
  dashboard runs every PromQL expression of the chart's Grafana dashboard against
           Prometheus (Grafana's variables filled in) and fails unless each returns
           data, or, for a filter that keeps nothing now (`> 0`, `== 1`), unless every
           series it reads exists.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import yaml


def label_meta(kind, key):
    return f"__meta_kubernetes_{kind}_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)


def sd(role, args, namespaces):
    """File discovery fed by `discover` (role pod or endpoints), and the monitor's
    namespace selection as a keep rule (kubernetes_sd would select at the source)."""
    files = [{"files": [os.path.join(args.sd_dir, f"{role}.json")], "refresh_interval": "2s"}]
    keep = []
    if namespaces is not None:
        keep = [{"source_labels": ["__meta_kubernetes_namespace"],
                 "regex": "|".join(re.escape(n) for n in namespaces), "action": "keep"}]
    return files, keep


def namespaces_of(monitor, release_ns):
    sel = monitor["spec"].get("namespaceSelector") or {}
    if sel.get("any"):
        return None
    return sel.get("matchNames") or [monitor["metadata"].get("namespace", release_ns)]


# What differs between the two monitor kinds: the discovery role, where the endpoints
# are listed, the meta label prefix of the selector, the meta label of the port name.
KINDS = {
    "PodMonitor": ("pod", "podMetricsEndpoints", "pod", "__meta_kubernetes_pod_container_port_name"),
    "ServiceMonitor": ("endpoints", "endpoints", "service", "__meta_kubernetes_endpoint_port_name"),
}


def monitor_jobs(m, args):
    role, endpoints, selector_kind, port_label = KINDS[m["kind"]]
    jobs = []
    for i, ep in enumerate(m["spec"][endpoints]):
        files, relabel = sd(role, args, namespaces_of(m, args.namespace))
        relabel += [
            {"source_labels": [label_meta(selector_kind, k)], "regex": re.escape(v), "action": "keep"}
            for k, v in m["spec"]["selector"]["matchLabels"].items()
        ]
        relabel.append({"source_labels": [port_label], "regex": re.escape(ep["port"]), "action": "keep"})
        relabel += target_labels(role)
        kind = m["kind"][0].lower() + m["kind"][1:]
        jobs.append({
            "job_name": f"{kind}/{m['metadata']['namespace']}/{m['metadata']['name']}/{i}",
            "scrape_interval": ep.get("interval", "30s"),
            "metrics_path": ep.get("path", "/metrics"),
            "honor_labels": bool(ep.get("honorLabels", False)),
            "file_sd_configs": files,
            "relabel_configs": relabel,
        })
    return jobs


def target_labels(role):
    return [
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
    ]


def config(args):
    docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
    jobs = []
    for d in docs:
        if d.get("kind") in KINDS:
            jobs += monitor_jobs(d, args)
    kinds = {d.get("kind") for d in docs}
    if not {"PodMonitor", "ServiceMonitor", "PrometheusRule"} <= kinds:
        sys.exit(f"the rendered chart lacks a monitor or the rule: {sorted(k for k in kinds if k)}")
    rule = next(d for d in docs if d.get("kind") == "PrometheusRule")
    with open(args.rules_out, "w") as f:
        yaml.safe_dump({"groups": rule["spec"]["groups"]}, f, sort_keys=False)
    out = {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": [args.rules_out],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [args.alertmanager]}]}]},
        "scrape_configs": jobs,
    }
    yaml.safe_dump(out, sys.stdout, sort_keys=False)


def kubectl(args, *what):
    out = subprocess.run([args.kubectl, "--kubeconfig", args.kubeconfig, "get", *what, "-A", "-o", "json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["items"]


def meta_labels(prefix, labels):
    return {label_meta(prefix, k): v for k, v in (labels or {}).items()}


def pod_targets(pods):
    """Role pod: one target per declared container port of a pod with an IP."""
    groups = []
    for p in pods:
        ip = p.get("status", {}).get("podIP")
        if not ip:
            continue
        md = p["metadata"]
        for c in p["spec"]["containers"]:
            for port in c.get("ports") or []:
                labels = {"__meta_kubernetes_namespace": md["namespace"],
                          "__meta_kubernetes_pod_name": md["name"],
                          "__meta_kubernetes_pod_ip": ip,
                          "__meta_kubernetes_pod_phase": p["status"].get("phase", ""),
                          "__meta_kubernetes_pod_container_name": c["name"],
                          "__meta_kubernetes_pod_container_port_name": port.get("name", ""),
                          "__meta_kubernetes_pod_container_port_number": str(port["containerPort"])}
                labels.update(meta_labels("pod", md.get("labels")))
                groups.append({"targets": [f"{ip}:{port['containerPort']}"], "labels": labels})
    return groups


def endpoints_targets(endpoints, services):
    """Role endpoints: one target per ready address and port, with its Service's labels."""
    svc = {(s["metadata"]["namespace"], s["metadata"]["name"]): s["metadata"].get("labels") for s in services}
    groups = []
    for e in endpoints:
        md = e["metadata"]
        for subset in e.get("subsets") or []:
            for addr in subset.get("addresses") or []:
                for port in subset.get("ports") or []:
                    labels = {"__meta_kubernetes_namespace": md["namespace"],
                              "__meta_kubernetes_service_name": md["name"],
                              "__meta_kubernetes_endpoint_port_name": port.get("name", ""),
                              "__meta_kubernetes_endpoint_ready": "true"}
                    ref = addr.get("targetRef") or {}
                    if ref.get("kind") == "Pod":
                        labels["__meta_kubernetes_pod_name"] = ref["name"]
                    labels.update(meta_labels("service", svc.get((md["namespace"], md["name"]))))
                    groups.append({"targets": [f"{addr['ip']}:{port['port']}"], "labels": labels})
    return groups


def write_atomically(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f)
    os.replace(tmp, path)


def discover(args):
    os.makedirs(args.sd_dir, exist_ok=True)
    while True:
        try:
            write_atomically(os.path.join(args.sd_dir, "pod.json"), pod_targets(kubectl(args, "pods")))
            write_atomically(os.path.join(args.sd_dir, "endpoints.json"),
                             endpoints_targets(kubectl(args, "endpoints"), kubectl(args, "services")))
        except (subprocess.CalledProcessError, json.JSONDecodeError, KeyError) as e:
            print(f"discover: {e}", file=sys.stderr, flush=True)
        if args.once:
            return
        time.sleep(2)


def query(prom, expr):
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body}")
    return body["data"]["result"]


METRIC = re.compile(r"\b(botfleet_[a-z0-9_]+)")


def dashboard(args):
    d = json.load(open(args.dashboard))
    subst = {"$namespace": args.bot_namespace, "$bot": args.bot, "$__rate_interval": "1m",
             "$__interval": "15s", "$__range": "5m"}
    failures, checked, skipped = [], 0, []
    for panel in d["panels"]:
        for t in panel.get("targets", []):
            expr = t["expr"]
            for k, v in subst.items():
                expr = expr.replace(k, v)
            metrics = set(METRIC.findall(expr))
            if metrics and all(m.startswith(tuple(args.not_in_run)) for m in metrics):
                skipped.append(f"{panel.get('title')!r}: {expr}")
                continue
            checked += 1
            if query(args.prom, expr):
                continue
            # A filter may keep nothing now; every series it reads must exist.
            missing = [m for m in sorted(set(METRIC.findall(expr)))
                       if not query(args.prom, f'{m}{{namespace="{args.bot_namespace}"}}')
                       and not query(args.prom, m)]
            filt = re.search(r"(>|==|<)\s*[0-9.]+\s*\)?\s*$", expr) or " or vector(0)" in expr
            if missing or not filt:
                failures.append(f"{panel.get('title')!r}: {expr} (no data; missing series: {missing})")
    print(f"dashboard: {checked} expressions checked, {len(failures)} without data; "
          f"{len(skipped)} about a feature no bot of this run uses (--not-in-run)")
    for sk in skipped:
        print("  skipped " + sk)
    for f in failures:
        print("  " + f)
    sys.exit(1 if failures else 0)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("config")
    c.add_argument("--alertmanager", required=True)
    c.add_argument("--rules-out", required=True)
    c.add_argument("--namespace", required=True)
    c.add_argument("--sd-dir", required=True)
    d = sub.add_parser("discover")
    d.add_argument("--kubectl", required=True)
    d.add_argument("--kubeconfig", required=True)
    d.add_argument("--sd-dir", required=True)
    d.add_argument("--once", action="store_true")
    b = sub.add_parser("dashboard")
    b.add_argument("--prom", required=True)
    b.add_argument("--dashboard", required=True)
    b.add_argument("--bot-namespace", required=True)
    b.add_argument("--bot", required=True)
    b.add_argument("--not-in-run", action="append", default=[],
                   help="metric prefix of a feature no bot of the run uses (its panels are listed, not checked)")
    a = p.parse_args()
    {"config": config, "discover": discover, "dashboard": dashboard}[a.cmd](a)


if __name__ == "__main__":
    main()
