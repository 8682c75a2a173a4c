#!/usr/bin/env bash
# End-to-end in real containers, without Docker: builds the FROM scratch image from
# Dockerfile.scratch and a FROM scratch step image holding only a static busybox, rewrites the
# examples with `emissary rewrite --as-pod` (podman 4.3 runs Pods, not Jobs), runs them with `podman kube play --network none`, and checks
# the order of steps, exit codes, skipped steps, stopped sidecars and termination messages
# (read from each step's own volume: podman does not read terminationMessagePath), and, with
# steps of different uids, that no container can write another's record while requests and
# signals still cross containers; a Job whose first step fails once (restartPolicy OnFailure: no
# 123 anywhere, issue #28); and image-volume delivery: the Emissary image mounted with
# `podman run --mount type=image` instead of the init container, one step gating on another.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

scripts/podman-setup.sh
[ -x artifacts/emissary ] && [ -x artifacts/emissary-tools ] || scripts/build.sh

work=$(mktemp -d)
pods=()
volumes=(emissary-bin)
cleanup() {
  for pod in "${pods[@]}"; do podman pod rm -f "$pod" >/dev/null 2>&1 || true; done
  podman volume rm -f "${volumes[@]}" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "e2e: building images" >&2
buildah bud --isolation chroot -q -f Dockerfile.scratch -t localhost/emissary:e2e . >/dev/null
mkdir -p "$work/steps/root/bin"
cp /bin/busybox "$work/steps/root/bin/busybox"
for applet in sh echo cat sleep printf true false ls mkdir test; do ln -s busybox "$work/steps/root/bin/$applet"; done
printf 'FROM scratch\nCOPY root/ /\nENV PATH=/bin\n' > "$work/steps/Dockerfile"
buildah bud --isolation chroot -q -f "$work/steps/Dockerfile" -t localhost/emissary-steps:e2e "$work/steps" >/dev/null

failures=0
fail() { echo "e2e: FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "e2e: ok: $*" >&2; }

# run_example FILE POD [IMAGE TOOLS]: rewrite (FILE under examples/ unless absolute), play, wait
# until every container has exited. IMAGE and TOOLS: another Emissary image and rewriter (a baseline).
run_example() {
  local file=$1 pod=$2 image=${3:-localhost/emissary:e2e} tools=${4:-$ROOT/artifacts/emissary} volume running
  [[ $file == /* ]] || file=$ROOT/examples/$file
  podman volume rm -f emissary-bin >/dev/null 2>&1 || true
  "$tools" rewrite --as-pod --image "$image" "$file" \
    | sed 's#image: busybox:1.36#image: localhost/emissary-steps:e2e#' > "$work/$pod.yaml"
  # The control directory and the step volumes, fresh, and as the kubelet makes an emptyDir:
  # root's, mode 0777. Podman would make them 0755 and give each to the uid of the first container
  # that mounts it (uid=0,gid=0 stops that), and then a step of another uid could not use its own.
  for volume in $(sed -n 's/^  - name: \(emissary-control\|emissary-step-[a-z0-9-]*\)$/\1/p' "$work/$pod.yaml"); do
    podman volume rm -f "$volume" >/dev/null 2>&1 || true
    podman volume create --opt o=uid=0,gid=0 "$volume" >/dev/null
    chmod 0777 "$(podman volume inspect "$volume" --format '{{.Mountpoint}}')"
    volumes+=("$volume")
  done
  (cd "$work" && podman kube play --network none "$pod.yaml" >/dev/null)
  pods+=("$pod")
  for _ in $(seq 1 120); do
    running=$(podman ps --filter "pod=$pod" --format '{{.Names}}' | grep -v -- '-infra$') || true
    if [ -z "$running" ]; then break; fi
    sleep 0.5
  done
}
exit_code() { podman inspect "$1" --format '{{.State.ExitCode}}'; }
# Whether container $1's output holds $2. Not `podman logs | grep -q`: grep quits at the first
# match, podman logs then fails on the closed pipe, and pipefail turns a match into a failure.
logs_have() { local logs; logs=$(podman logs "$1" 2>&1) || true; grep -q -- "$2" <<<"$logs"; }
# A step's record: its own volume (mounted at /var/run/emissary/STEP in the pod).
rec() { podman volume inspect "emissary-step-$1" --format '{{.Mountpoint}}'; }
field() { sed -n "s/.*\"$2\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p" "$(rec "$1")/status.json" 2>/dev/null || true; }
expect_exit() { local got; got=$(exit_code "$1"); [ "$got" = "$2" ] && pass "$1 exited $2" || fail "$1 exited $got, expected $2"; }
expect_state() { local got; got=$(field "$1" state); [ "$got" = "$2" ] && pass "$1 is $2" || fail "$1 is '$got', expected $2"; }
expect_before() { # step A finished before step B started
  local a b; a=$(field "$1" finishedAt); b=$(field "$2" startedAt)
  [[ "$a" < "$b" || "$a" == "$b" ]] && pass "$1 finished ($a) before $2 started ($b)" || fail "$2 started ($b) before $1 finished ($a)"
}

echo "e2e: tekton-pipeline.yaml" >&2
run_example tekton-pipeline.yaml pipeline
for step in clone build publish; do expect_exit "pipeline-$step" 0; expect_state $step succeeded; done
expect_before clone build; expect_before build publish
grep -q '"digest":"sha256:5e1f"' "$(rec build)/termination.json" && pass "build's termination message holds its result" || fail "build's termination message: $(cat "$(rec build)/termination.json" 2>&1)"
logs_have pipeline-build 'building commit 3f9a2c1' && pass "build read clone's result" || fail "build did not read clone's result"

echo "e2e: argo-dag.yaml" >&2
run_example argo-dag.yaml dag
expect_exit dag-lint 2; expect_state lint failed
expect_exit dag-package 123; expect_state package skipped
expect_exit dag-docs 0; expect_exit dag-unit 0; expect_exit dag-cleanup 0
expect_before prepare unit; expect_before prepare docs; expect_before docs cleanup
grep -q '"reason":"Skipped"' "$(rec package)/termination.json" && pass "package's termination message says Skipped" || fail "package's termination message: $(cat "$(rec package)/termination.json" 2>&1)"

echo "e2e: job-sidecar.yaml" >&2
run_example job-sidecar.yaml integration-test
pod=integration-test
expect_exit "$pod-db" 0; expect_state db succeeded
[ "$(field db reason)" = Stopped ] && pass "db was stopped by emissary" || fail "db reason is '$(field db reason)'"
expect_exit "$pod-test" 0; expect_before migrate test
# Millisecond timestamps: the hand-off to the sidecar can land in the same millisecond (not before).
[[ ! "$(field db finishedAt)" < "$(field test finishedAt)" ]] && pass "db stopped after test finished ($(field test finishedAt) <= $(field db finishedAt))" || fail "db stopped before test finished ($(field db finishedAt) < $(field test finishedAt))"
logs_have "$pod-db" 'db: shutting down' && pass "db got SIGTERM" || fail "db did not get SIGTERM"

echo "e2e: trust-uids.yaml" >&2
run_example trust-uids.yaml trust
pod=trust
for step in worker server untrusted; do expect_exit "$pod-$step" 0; expect_state $step succeeded; done
expect_exit "$pod-optional" 123; expect_state optional skipped
logs_have "$pod-untrusted" 'cannot write another step' && pass "uid 1000 cannot write another step's record" || fail "untrusted: $(podman logs "$pod-untrusted" 2>&1 | tail -3)"
[ "$(podman logs "$pod-untrusted" 2>&1 | grep -c 'Read-only file system')" -ge 5 ] && pass "each forgery failed on a read-only mount" || fail "untrusted's forgeries did not fail as read-only: $(podman logs "$pod-untrusted" 2>&1)"
logs_have "$pod-worker" 'Read-only file system' && pass "root cannot write another step's record either" || fail "worker: $(podman logs "$pod-worker" 2>&1)"
logs_have "$pod-server" 'got USR1' && pass "emissary signal from another container reached server through the read-only mount" || fail "server did not get USR1: $(podman logs "$pod-server" 2>&1)"
[ "$(stat -c %u "$(rec server)/status.json")" = 1000 ] && pass "server's record was written by uid 1000" || fail "server's record belongs to uid $(stat -c %u "$(rec server)/status.json")"
grep -q '"forgery":"refused"' "$(rec untrusted)/termination.json" && pass "untrusted's termination message holds its result" || fail "untrusted's termination message: $(cat "$(rec untrusted)/termination.json" 2>&1)"
grep -q '"reason":"Skipped"' "$(rec optional)/termination.json" && pass "optional was skipped from another container" || fail "optional's termination message: $(cat "$(rec optional)/termination.json" 2>&1)"

echo "e2e: stream-pipeline.yaml" >&2
run_example stream-pipeline.yaml stream
pod=stream
for step in numbers evens count report; do expect_exit "$pod-$step" 0; expect_state $step succeeded; done
[ "$(cat "$(rec count)/results/total" 2>/dev/null)" = 100000 ] && pass "numbers | evens | count across three containers counted 100000" || fail "count's result: $(cat "$(rec count)/results/total" 2>&1)"
logs_have "$pod-report" 'even numbers: 100000' && pass "report got \$(steps.count.results.total) in its arguments" || fail "report: $(podman logs "$pod-report" 2>&1)"
[[ "$(field count startedAt)" < "$(field numbers finishedAt)" ]] && pass "the stages ran at the same time" || fail "count started after numbers finished"
# The stream's socket is removed once the consumer took the pipe; the consumer's claim stays in its own record.
[ ! -e "$(rec evens)/stdout" ] && [ -f "$(rec count)/stream-claim" ] && pass "evens (uid 1000) handed its stream to count (root), which claimed it from its own record" || fail "evens' socket or count's claim: $(ls -l "$(rec evens)" "$(rec count)" 2>&1)"

# Image-volume delivery (`rewrite --delivery image-volume`): no init container copies the binary;
# the Emissary image itself is mounted read-only at /var/run/emissary-bin in each step, as the
# kubelet mounts an `image` volume, so the image's /emissary (Dockerfile.scratch) is the
# /var/run/emissary-bin/emissary every wrapped command runs. Two containers of one pod, in the
# layout rewrite writes (a shared control directory, each step's record its own volume, read-only
# in the step that reads it): "vol-second" is started first and gates on "vol-first".
echo "e2e: image-volume delivery" >&2
pod=imgvol
# What rewrite writes for such a pod: the image as the binary's volume, no init container, and
# the commands run below.
printf '%s' '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"imgvol"},"spec":{"containers":[
  {"name":"vol-first","image":"s","command":["sh"]},{"name":"vol-second","image":"s","command":["sh"],"waitForTermination":["vol-first"]}]}}' > "$work/imgvol.json"
wired=$("$ROOT/artifacts/emissary" rewrite --delivery image-volume --image localhost/emissary:e2e "$work/imgvol.json" 2>&1) || true
if grep -q '"reference": "localhost/emissary:e2e"' <<<"$wired" && ! grep -q emissary-init <<<"$wired" \
  && grep -q '"mountPath": "/var/run/emissary-bin",' <<<"$wired" && tr -d ' \n' <<<"$wired" | grep -q '"command":\["/var/run/emissary-bin/emissary","run","--name","vol-second","--after","vol-first"'; then
  pass "rewrite --delivery image-volume mounts localhost/emissary:e2e at /var/run/emissary-bin with no init container"
else
  fail "rewrite --delivery image-volume wrote: $wired"
fi
podman pod rm -f "$pod" >/dev/null 2>&1 || true
podman pod create --name "$pod" --network none >/dev/null
pods+=("$pod")
for volume in emissary-control-imgvol emissary-step-vol-first emissary-step-vol-second; do
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
  podman volume create --opt o=uid=0,gid=0 "$volume" >/dev/null
  chmod 0777 "$(podman volume inspect "$volume" --format '{{.Mountpoint}}')"
  volumes+=("$volume")
done
binary_mount=(--mount type=image,source=localhost/emissary:e2e,destination=/var/run/emissary-bin,rw=false)
control_mount=(-v emissary-control-imgvol:/var/run/emissary)
# vol-second also proves the mount read-only: overwriting the binary must fail.
podman run -d --pod "$pod" --name "$pod-vol-second" "${binary_mount[@]}" "${control_mount[@]}" \
  -v emissary-step-vol-second:/var/run/emissary/vol-second -v emissary-step-vol-first:/var/run/emissary/vol-first:ro \
  localhost/emissary-steps:e2e /var/run/emissary-bin/emissary run --name vol-second --after vol-first -- \
  sh -c 'if echo x 2>/dev/null > /var/run/emissary-bin/emissary; then echo "binary writable"; exit 9; fi; echo second ran; exit 3' >/dev/null
sleep 0.3
[ "$(podman inspect "$pod-vol-second" --format '{{.State.Running}}')" = true ] && pass "vol-second waits for vol-first" || fail "vol-second is not waiting: $(podman logs "$pod-vol-second" 2>&1 | tail -3)"
podman run -d --pod "$pod" --name "$pod-vol-first" "${binary_mount[@]}" "${control_mount[@]}" \
  -v emissary-step-vol-first:/var/run/emissary/vol-first \
  localhost/emissary-steps:e2e /var/run/emissary-bin/emissary run --name vol-first -- sh -c 'sleep 0.2; echo first ran' >/dev/null
podman wait "$pod-vol-first" "$pod-vol-second" >/dev/null
expect_exit "$pod-vol-first" 0; expect_state vol-first succeeded
expect_exit "$pod-vol-second" 3; expect_state vol-second failed
expect_before vol-first vol-second
logs_have "$pod-vol-second" 'second ran' && pass "vol-second ran its command from the image mount, which it could not overwrite" || fail "vol-second: $(podman logs "$pod-vol-second" 2>&1 | tail -3)"

# Issue #28: a Job (restartPolicy OnFailure, which podman kube play applies by restarting the
# container in place) whose first step fails once and then succeeds. The failure is recorded as
# restarting (rewrite passes --restart-policy OnFailure on), so the dependant waits through the
# restart instead of being skipped with 123 and restarted itself: the whole completes with no 123
# anywhere. E2E_COMPARE_WITH=DIR (a directory holding an older emissary and emissary-tools) runs
# the same Job with those first and prints both wall times.
cat > "$work/flaky-job.yaml" <<'YAML'
apiVersion: batch/v1
kind: Job
metadata:
  name: flaky
spec:
  template:
    spec:
      restartPolicy: OnFailure
      volumes:
        - name: scratch
          emptyDir: {}
      containers:
        - name: fetch
          image: busybox:1.36
          command: [sh, -c, 'if [ -e /scratch/failed-once ]; then echo fetched; else touch /scratch/failed-once; echo "fetch: flaky failure"; exit 1; fi']
          volumeMounts:
            - {name: scratch, mountPath: /scratch}
        - name: build
          image: busybox:1.36
          command: [sh, -c, 'echo built']
          waitForTermination: [fetch]
YAML
# run_flaky IMAGE TOOLS: plays the Job, waits until both containers exited 0 (60 s at most), and
# sets flaky_seconds, flaky_build_restarts and flaky_skips (how often build was skipped).
run_flaky() {
  local started now c
  podman pod rm -f flaky >/dev/null 2>&1 || true
  started=$(date +%s%N)
  run_example "$work/flaky-job.yaml" flaky "$1" "$2"
  for _ in $(seq 1 240); do
    c=0
    for step in fetch build; do
      [ "$(podman inspect flaky-$step --format '{{.State.Running}} {{.State.ExitCode}}' 2>/dev/null)" = "false 0" ] && c=$((c + 1))
    done
    [ "$c" = 2 ] && break
    sleep 0.25
  done
  now=$(date +%s%N)
  flaky_seconds=$(awk -v ns=$((now - started)) 'BEGIN { printf "%.1f", ns / 1e9 }')
  flaky_build_restarts=$(podman inspect flaky-build --format '{{.RestartCount}}' 2>/dev/null || echo '?')
  flaky_skips=$( (podman logs flaky-build 2>&1 || true) | grep -c 'not running the command' || true)
}
if [ -n "${E2E_COMPARE_WITH:-}" ]; then
  mkdir -p "$work/before/artifacts"
  cp "$E2E_COMPARE_WITH/emissary" "$work/before/artifacts/emissary"
  buildah bud --isolation chroot -q -f Dockerfile.scratch -t localhost/emissary:before "$work/before" >/dev/null
  run_flaky localhost/emissary:before "$E2E_COMPARE_WITH/emissary-tools"
  echo "e2e: before: the flaky Job took ${flaky_seconds}s; build restarted ${flaky_build_restarts} time(s), skipped ${flaky_skips} time(s)" >&2
  podman pod rm -f flaky >/dev/null 2>&1 || true
fi
echo "e2e: a Job whose first step fails once (restartPolicy OnFailure)" >&2
run_flaky localhost/emissary:e2e "$ROOT/artifacts/emissary"
echo "e2e: the flaky Job took ${flaky_seconds}s; build restarted ${flaky_build_restarts} time(s), skipped ${flaky_skips} time(s)" >&2
expect_exit flaky-fetch 0; expect_state fetch succeeded; expect_exit flaky-build 0; expect_state build succeeded
expect_before fetch build
[ "$(podman inspect flaky-fetch --format '{{.RestartCount}}')" = 1 ] && pass "fetch was restarted once by podman" || fail "fetch restarts: $(podman inspect flaky-fetch --format '{{.RestartCount}}')"
[ "$flaky_build_restarts" = 0 ] && [ "$flaky_skips" = 0 ] && pass "build waited through fetch's restart: never skipped, never restarted" || fail "build was restarted $flaky_build_restarts time(s), skipped $flaky_skips time(s)"
[ "$(field fetch restarts)" = 1 ] && pass "fetch's record counts its restart" || fail "fetch's record: $(cat "$(rec fetch)/status.json" 2>&1)"
! grep -rq '123' "$(rec fetch)/exitcode" "$(rec build)/exitcode" && pass "no 123 in either record" || fail "a 123 in the records"

if [ "$failures" -gt 0 ]; then echo "e2e: $failures check(s) failed" >&2; exit 1; fi
echo "e2e: all checks passed" >&2
