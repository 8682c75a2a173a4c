#!/usr/bin/env python3
"""Writes the generated part of the seed corpora (fuzz/TARGET/*): valid inputs as the tests and the
docs show them, and the hostile shapes we know (deep nesting, huge numbers, invalid UTF-8,
truncation, NUL bytes, decompression bombs). Run from the repository root; idempotent. Regression
inputs (fuzz/TARGET/regression-*) are written by hand, not here."""
import base64, os, sys, zlib

def put(target, name, data):
    os.makedirs(f"fuzz/{target}", exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    with open(f"fuzz/{target}/{name}", "wb") as f:
        f.write(data)

def raw_deflate(b):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(b) + c.flush()

def tknz(b):
    return b"tknz:" + base64.b64encode(raw_deflate(b)).rstrip(b"=")

# Hostile shapes every JSON-reading target gets.
def json_hostile(target):
    put(target, "deep-array-65", "[" * 65 + "]" * 65)
    put(target, "deep-object-64", '{"a":' * 64 + "1" + "}" * 64)
    put(target, "deep-unclosed-5000", "[" * 5000)
    put(target, "huge-number", "[" + "9" * 400 + "e99999999999]")
    put(target, "invalid-utf8", b'{"name":"\xff\xfe\xc0\xaf","state":"running"}')
    put(target, "nul-bytes", b'{"name":"a\x00b","state":"\x00"}')
    put(target, "lone-surrogate", '["\\ud800", "\\udc00\\ud800x"]')
    put(target, "truncated", '{"name":"a","state":"succ')
    put(target, "escapes", '["\\u00e9\\n\\t\\"\\\\\\/\\b\\f\\r", "\\ud83d\\ude00"]')

put("json", "object", '{"a":[1,-2.5e+3,true,false,null,"x"],"b":{}}')
put("json", "array-of-numbers", "[0,-0,1e5,1E-5,0.5,123456789012345678901234567890]")
json_hostile("json")

status = '{"name":"build","state":"succeeded","pid":42,"waitingSince":"2024-05-01T10:00:00.000Z","startedAt":"2024-05-01T10:00:01.250Z","finishedAt":"2024-05-01T10:00:09.5Z","exitCode":0,"reason":"Completed","message":"ok","continueOnError":true,"waitsForStart":true,"waitingFor":["step \'fetch\'"],"usage":{"waitMs":1250,"runMs":8250,"attempts":2,"userCpuMs":10,"systemCpuMs":3,"maxRssKiB":2048,"cgroupMemoryPeakBytes":1048576,"cgroupCpuMs":12,"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","attemptList":[{"exitCode":1,"startedAt":"2024-05-01T10:00:01.250Z","finishedAt":"2024-05-01T10:00:02Z","userCpuMs":1,"systemCpuMs":1,"maxRssKiB":1024}]}}'
put("status-json", "full", status)
put("status-json", "waiting", '{"name":"deploy","state":"waiting","waitingFor":["step \'build\'","file /tmp/x"],"waitsForStart":true}')
put("status-json", "wrong-types", '{"name":1,"state":"failed","pid":"x","exitCode":1e99,"usage":{"waitMs":"x","attemptList":[1,{"exitCode":0}]}}')
put("status-json", "time-edge", '{"name":"a","state":"failed","startedAt":"9999-12-31T23:59:60.999999999+23:59","finishedAt":"0000-01-01T00:00:00-23:59"}')
json_hostile("status-json")

entries = b'[{"key":"digest","value":"sha256:abc","type":1},{"key":"url","value":"https://x","type":"StepResult"},{"key":"k","value":""}]'
put("tekton-termination", "plain", entries)
put("tekton-termination", "compressed", tknz(entries))
put("tekton-termination", "blank", " \n\t")
put("tekton-termination", "bomb-1mib-of-spaces", tknz(b"[" + b" " * (1 << 20) + b"]"))
put("tekton-termination", "padding", tknz(entries) + b"==")
put("tekton-termination", "bad-base64", b"tknz:!!!!")
put("tekton-termination", "not-deflate", b"tknz:" + base64.b64encode(b"hello world").rstrip(b"="))
put("tekton-termination", "wrong-types", b'[{"key":1,"value":"v"},{"key":"k","value":"v","type":99999999999}]')
json_hostile("tekton-termination")

def emz(b):
    return b"emz:" + base64.b64encode(raw_deflate(b)).rstrip(b"=")

message = b'{"name":"build","exitCode":0,"reason":"Completed","startedAt":"2026-11-28T07:04:37.123Z","finishedAt":"2026-11-28T07:04:39.456Z","results":{"bin":{"base64":"//4AgA=="},"digest":"sha256:abc","note":"line\\n\\u00e9"}}'
many = b'{"name":"build","exitCode":0,"reason":"Completed","results":{' + b",".join(b'"image-%03d":"registry.example.com/app@sha256:%064x"' % (i, i * 7919) for i in range(60)) + b"}}"
put("termination", "plain", message)
put("termination", "compressed", emz(message))
put("termination", "compressed-60-results", emz(many))
put("termination", "omitted", b'{"name":"build","exitCode":0,"reason":"Completed","resultsOmitted":3}')
put("termination", "blank", " \n\t")
put("termination", "bomb-1mib-of-spaces", emz(b'{"results":{"a":"' + b" " * (1 << 20) + b'"}}'))
put("termination", "padding", emz(message) + b"==")
put("termination", "bad-base64", b"emz:!!!!")
put("termination", "not-deflate", b"emz:" + base64.b64encode(b"hello world").rstrip(b"="))
put("termination", "stored-block", b"emz:" + base64.b64encode(b"\x01" + len(message).to_bytes(2, "little") + (len(message) ^ 0xFFFF).to_bytes(2, "little") + message).rstrip(b"="))
put("termination", "wrong-shapes", b'{"results":{"a":1,"b":{"base64":"***"},"c":["x"]},"resultsOmitted":"many"}')
json_hostile("termination")

# --- the remaining targets ---
put("exitcode", "zero", "0\n")
put("exitcode", "negative", " -1 ")
put("exitcode", "overflow", "99999999999999999999")
put("exitcode", "nul", b"1\x002")
put("exitcode", "signs", "+-0x1F")

for name, text in {"simple": "1m30s", "bare": "2.5", "all-units": "1h2m3s4ms5us6ns7\u00b5s8\u03bcs", "negative": "-5s",
                   "huge": "9" * 330 + "h", "nan": "NaN", "exp": "1e308", "dots": "1.2.3s", "space": " 10s "}.items():
    put("duration", name, text)
for name, text in {"controller": "1h0m0s", "fraction": "1.5s", "zero": "0", "signed": "-300ms", "max": "2562047h47m16.854775807s",
                   "over": "2562047h47m16.854775808s", "long-fraction": "0." + "9" * 100 + "s", "micro": "5\u00b5s", "no-unit": "5"}.items():
    put("go-duration", name, text)
for name, text in {"utc": "2024-05-01T10:00:01.250Z", "offset": "2024-05-01T10:00:01+02:00", "nanos": "2024-05-01T10:00:01.123456789012Z",
                   "leap": "2016-12-31T23:59:60Z", "edge": "0000-01-01T00:00:00-23:59", "max": "9999-12-31T23:59:59+00:00", "lower": "2024-05-01t10:00:01z"}.items():
    put("rfc3339", name, text)
for name, text in {"w3c": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "future": "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra",
                   "zero": "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "upper": "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
                   "ff": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}.items():
    put("traceparent", name, text)

refs = {"plain": "echo $(steps.build.results.digest) and $(steps.a-b_c.results.k)",
        "selectors": "$(steps.s.results.list[0]) $(steps.s.results.list[*]) $(steps.s.results.obj.field) $(steps.s.results.x[123456789])",
        "shell": "echo $(steps ...) $(steps.) $(steps.a.results.) $(steps.a.results.b[) $(steps.a.results.b[x]) $(steps.a.results.b.)",
        "unclosed-selectors": "$(steps.a.results.b[" * 200,
        "nested": "$(steps.a.results.$(steps.b.results.c))"}
for name, text in refs.items():
    put("step-result-refs", name, text)
for name, text in {"string": "$(steps.a.results.b)\nhello", "json-string": '$(steps.a.results.b)\n"quoted \\u00e9"',
                   "array": "$(steps.a.results.b[1]) $(steps.a.results.b[*])\n[\"x\",\"y\",null]",
                   "object": "$(steps.a.results.b.k) $(steps.a.results.b.missing)\n{\"k\":\"v\",\"n\":null}",
                   "index-out": "$(steps.a.results.b[999999999])\n[\"x\"]", "mixed": "$(steps.a.results.b.k)\n[1,{}]",
                   "invalid-utf8": b"$(steps.a.results.b)\n\xff\xfe"}.items():
    put("tekton-result-value", name, text)
json_hostile("tekton-result-value")

put("when-expressions", "in", '[{"input":"foo","operator":"in","values":["foo","bar"]}]')
put("when-expressions", "notin", '[{"input":"$(steps.a.results.b)","operator":"notin","values":["x"]},{"cel":"1 == 1"}]')
put("when-expressions", "null", "null")
put("when-expressions", "wrong-types", '[{"input":1,"values":"x"},{"values":[1]}]')
json_hostile("when-expressions")

put("go-flags", "tekton", "-wait_file\n/tekton/downward/ready\n-wait_file_content\n-post_file\n/tekton/run/0/out\n-termination_path\n/tekton/termination\n-step_metadata_dir\n/tekton/run/0/status\n-entrypoint\n/ko-app/git-init\n--\n-url\nhttps://x")
put("go-flags", "forms", "--timeout=1h0m0s\n-results=a,b,,c\n-b=false\n--basic-git=secret=https://github.com\n-on_error\ncontinue\n-compress_termination_message=T\n-when_expressions\n[]\nrest")
put("go-flags", "errors", "---x\n-timeout\nforever")
put("go-flags", "help", "-help")
put("go-flags", "subcommand", "cp\n/ko-app/entrypoint\n/tekton/bin/entrypoint")

put("cli-run", "full", "--name\nbuild\n--after\nfetch,lint\n--timeout\n10m\n--grace\n5s\n--retries\n2\n--retry-delay\n1s\n--on-error\ncontinue\n--wait-file\n/tmp/ready\n--wait-content\n--stop-signal\nINT\n--wait-http\nhttp://127.0.0.1:15021/healthz/ready\n--quit\nistio\n--result-from-stdout\ndigest\n--termination-format\ntekton\n--\nmake\nbuild")
put("cli-run", "env", "EMISSARY_NAME=deploy\nEMISSARY_AFTER=build,,test\nEMISSARY_WAIT_START=yes\nEMISSARY_TIMEOUT=1m\nEMISSARY_LOG_LEVEL=debug\n--log-format=json\n--\nsh\n-c\necho")
put("cli-run", "errors", "--name\nBad Name\n--after\nBad Name\n--timeout\n-1s\n--retries\n99999999999\n--wait-tcp\n[::1]:99999\n--stdout-to\nx")
put("cli-run", "no-command", "--sidecar-of\nmain\n--stdin-from\nproducer")

for name, text in {"ok": "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "no-reason": "HTTP/1.0 503\r\n", "bare-lf": "HTTP/1.1 204 No Content\n",
                   "not-http": "SSH-2.0-OpenSSH_9.6\r\n", "huge-status": "HTTP/1.1 99999999999 x\r\n", "signed": "HTTP/1.1 +200 OK\r\n",
                   "nul": b"HTTP/1.1 2\x0000 OK\r\n", "empty": ""}.items():
    put("http-status", name, text)

def dns_name(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\x00"
q = dns_name("otel-collector.observability.svc.cluster.local")
header = lambda an, rcode=0: bytes([0x12, 0x34, 0x81, 0x80 | rcode, 0, 1, 0, an, 0, 0, 0, 0])
a_rr = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x00\x00\x07"
cname = b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c" + len(dns_name("real.example")).to_bytes(2, "big") + dns_name("real.example")
put("dns-answer", "a-record", header(1) + q + b"\x00\x01\x00\x01" + a_rr)
put("dns-answer", "cname-chain", header(2) + q + b"\x00\x01\x00\x01" + cname + a_rr)
put("dns-answer", "aaaa", bytes([0x12, 0x35]) + header(1)[2:] + q + b"\x00\x1c\x00\x01" + b"\xc0\x0c\x00\x1c\x00\x01\x00\x00\x00\x3c\x00\x10" + bytes(range(16)))
put("dns-answer", "nxdomain", header(0, 3) + q + b"\x00\x01\x00\x01")
put("dns-answer", "pointer-loop", header(1) + b"\xc0\x0c\x00\x01\x00\x01" + b"\xc0\x0c" * 4)
put("dns-answer", "truncated", (header(1) + q + b"\x00\x01\x00\x01" + a_rr)[:-3])
put("dns-answer", "many-counts", bytes([0x12, 0x34, 0x81, 0x80, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]) + b"\x00" * 40)

put("resolv-conf", "kubernetes", "search observability.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5 timeout:2 attempts:3\n")
put("resolv-conf", "hosts", "127.0.0.1 localhost\n::1 localhost ip6-localhost\n10.0.0.7 otel-collector otel-collector.observability # comment\nfe80::1%eth0 otel-collector\n")
put("resolv-conf", "odd", "nameserver\nnameserver 999.1.1.1\nnameserver ::1\noptions ndots:99999999999 timeout:-1 attempts:0\nsearch\ndomain x\n")

for i, (field, text) in enumerate([(0, "build, test"), (1, "1m30s"), (2, "3"), (3, "500ms"), (4, "continue"), (5, "true"), (6, "yes"),
                                   (7, "false"), (8, "digest"), (9, "SIGTERM"), (10, "10s"), (11, "producer"), (12, "a,b"), (2, "99999999999"), (9, "65")]):
    put("step-fields", f"field-{field}-{i}", bytes([field]) + text.encode())

put("entrypoint-index", "yaml", "alpine:3.20: {cmd: [/bin/sh]}\nghcr.io/acme/migrate: {entrypoint: [/migrate], cmd: [up]}\n")
put("entrypoint-index", "json", '{"busybox": {"entrypoint": ["sh"], "cmd": []}, "x@sha256:abc": {"cmd": ["run"]}}')
put("entrypoint-index", "errors", "alpine: {cmds: [x]}\n---\nb: 1\n")
put("entrypoint-index", "anchors", "a: &x {cmd: [*y]}\nb: *x\n")
put("entrypoint-index", "billion-laughs", "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: {cmd: [*d,*d,*d,*d,*d,*d,*d,*d,*d]}\n")

import glob
for path in sorted(glob.glob("examples/*.yaml")):
    put("manifest-rewrite", os.path.basename(path), open(path, "rb").read())
put("manifest-rewrite", "billion-laughs", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: x\n    command: &a [x,x,x,x,x,x,x,x,x]\n    args: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n  - name: b\n    image: x\n    command: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n  - name: c\n    image: x\n    args: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n")
put("manifest-rewrite", "deep", "a: " + "[" * 2000 + "]" * 2000 + "\n")
put("manifest-rewrite", "tabs-and-nul", b"apiVersion: v1\nkind: Pod\n\tspec: \x00\n")

fixtures = open("src/Emissary.Tests/Unit/Webhook/WebhookFixtures.cs", encoding="utf-8").read()
import json, re
pods = {m.group(1): json.loads(m.group(2)) for m in re.finditer(r'public const string (\w+) = """(.*?)""";', fixtures, re.S)}
def review(pod, operation="CREATE", kind="Pod", resource="pods"):
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "kind": {"group": "", "version": "v1", "kind": kind},
        "resource": {"group": "", "version": "v1", "resource": resource}, "namespace": "shop", "operation": operation,
        "object": pod, "oldObject": None, "dryRun": False}}, separators=(",", ":"))
for name, pod in pods.items():
    put("admission", name, review(pod))
    put("manifest-rewrite", name + ".json", json.dumps(pod))
put("admission", "update", review(pods["InvalidGraphPod"], operation="UPDATE"))
put("admission", "not-a-pod", review({"kind": "Deployment"}, kind="Deployment", resource="deployments"))
put("admission", "wrong-types", '{"apiVersion":1,"request":{"uid":[],"kind":"Pod","object":"x","dryRun":"yes"}}')
put("admission", "object-not-pod", review([1, 2, 3]))
json_hostile("admission")

put("signal-lines", "requests", b"\x0515\n 2 \r\n9\n64\n")
put("signal-lines", "out-of-range", b"\x010\n65\n-1\n+9\n0x0f\n99999999999\n")
put("signal-lines", "long-line", b"\x20" + b"1" * 200 + b"\n15\n" + b"9" * 64 + b"\n")
put("signal-lines", "no-newline", b"\x6015 15 15")
put("signal-lines", "nul", b"\x021\x005\n\x00\n")
