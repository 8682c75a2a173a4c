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
