#!/usr/bin/env bash
# End-to-end in real containers: a TaskRun's pod exactly as Tekton's controller renders it
# (examples/tekton/taskrun-pod.yaml, with the sources it follows), run by `podman kube play` with
# Emissary's entrypoint image (Dockerfile.tekton) in the -entrypoint-image slot. The script plays
# the controller where podman cannot: it turns the downwardAPI volume into a volume whose `ready`
# file it fills (atomically, as the kubelet's projection does) once the steps are up, as the
# controller's tekton.dev/ready patch would. Checks: exit codes, post files, exitCode files,
# results and step results in each step's termination message (read from the container, since
# podman does not read terminationMessagePath), onError: continue, the failing step, the skipped one.
# With TEKTON_E2E_OUT=DIR it also leaves there, per step, `NAME.exit` and `NAME.termination`, for
# the black-box test that checks them with the controller's parsing rules.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

scripts/podman-setup.sh
[ -x artifacts/entrypoint ] || scripts/build.sh

work=$(mktemp -d)
pod=demo-taskrun-pod
steps=(clone build test fail report)
volumes=()
cleanup() {
  podman pod rm -f "$pod" >/dev/null 2>&1 || true
  [ ${#volumes[@]} -eq 0 ] || podman volume rm -f "${volumes[@]}" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "e2e-tekton: building images" >&2
buildah bud --isolation chroot -q -f Dockerfile.tekton -t localhost/emissary-entrypoint:e2e . >/dev/null
mkdir -p "$work/shell/root/bin"
cp /bin/busybox "$work/shell/root/bin/busybox"
for applet in sh echo cat sleep printf true false touch chmod ls; do ln -s busybox "$work/shell/root/bin/$applet"; done
printf 'FROM scratch\nCOPY root/ /\nENV PATH=/bin\n' > "$work/shell/Dockerfile"
buildah bud --isolation chroot -q -f "$work/shell/Dockerfile" -t localhost/tekton-busybox:e2e "$work/shell" >/dev/null

# The controller's rendering, with the images substituted and every volume a named podman volume.
sed -e 's#ENTRYPOINT_IMAGE#localhost/emissary-entrypoint:e2e#' -e 's#SHELL_IMAGE#localhost/tekton-busybox:e2e#' \
    -e 's#STEP_IMAGE#localhost/tekton-busybox:e2e#' examples/tekton/taskrun-pod.yaml \
  | awk '
      skip && /^        / { next }
      { skip = 0 }
      /^    - name: tekton-internal-/ { name = $3; print; getline
        if ($1 == "emptyDir:" || $1 == "downwardAPI:") { print "      persistentVolumeClaim: {claimName: " name "}"; skip = ($1 == "downwardAPI:"); next } }
      { print }' > "$work/pod.yaml"
for volume in $(sed -n 's/^    - name: \(tekton-internal-[a-z0-9-]*\)$/\1/p' "$work/pod.yaml"); do
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
  podman volume create --opt o=uid=0,gid=0 "$volume" >/dev/null
  chmod 0777 "$(podman volume inspect "$volume" --format '{{.Mountpoint}}')"
  volumes+=("$volume")
done
vol() { podman volume inspect "tekton-internal-$1" --format '{{.Mountpoint}}'; }
# The annotation is not there yet: the projected file exists, empty.
: > "$(vol downward)/ready"

echo "e2e-tekton: playing the pod" >&2
podman pod rm -f "$pod" >/dev/null 2>&1 || true
(cd "$work" && podman kube play --network none pod.yaml >/dev/null)
# Wait until every step container is up (the init containers are done), then patch "ready".
for _ in $(seq 1 120); do
  up=$(podman ps --filter "pod=$pod" --format '{{.Names}}' | grep -c -- '-step-') || true
  [ "$up" -ge 1 ] && break
  sleep 0.25
done
sleep 1
printf READY > "$(vol downward)/.ready.tmp" && mv "$(vol downward)/.ready.tmp" "$(vol downward)/ready"
for _ in $(seq 1 120); do
  running=$(podman ps --filter "pod=$pod" --format '{{.Names}}' | grep -- '-step-') || true
  [ -z "$running" ] && break
  sleep 0.25
done

failures=0
fail() { echo "e2e-tekton: FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "e2e-tekton: ok: $*" >&2; }
ctr() { echo "$pod-step-$1"; }
exit_code() { podman inspect "$(ctr "$1")" --format '{{.State.ExitCode}}'; }
message() { podman cp "$(ctr "$1")":/tekton/termination "$work/$1.termination" >/dev/null 2>&1 || : > "$work/$1.termination"; cat "$work/$1.termination"; }
logs_have() { local logs; logs=$(podman logs "$(ctr "$1")" 2>&1) || true; grep -q -- "$2" <<<"$logs"; }
expect_exit() { local got; got=$(exit_code "$1"); [ "$got" = "$2" ] && pass "step-$1 exited $2" || fail "step-$1 exited $got, expected $2"; }
expect_file() { [ -e "$(vol "run-$1")/$2" ] && pass "run/$1/$2 exists" || fail "run/$1/$2 is missing"; }
expect_message() { local m; m=$(message "$1"); grep -qF -- "$2" <<<"$m" && pass "step-$1's message has $2" || fail "step-$1's message: $m"; }

expect_exit clone 0; expect_file 0 out; expect_message clone '{"key":"commit","value":"abc123","type":1}'
logs_have clone 'cloning' && pass "the decoded script ran" || fail "step-clone: $(podman logs "$(ctr clone)" 2>&1 | tail -3)"
expect_exit build 0; expect_file 1 out; expect_message build '{"key":"digest","value":"sha256:5e1f","type":4}'
grep -q 'building abc123' "$(vol workspace)/build.log" && pass "build's stdout is in /workspace/build.log" || fail "build.log: $(cat "$(vol workspace)/build.log" 2>&1)"
expect_exit test 0; expect_file 2 out; expect_message test '{"key":"ExitCode","value":"3","type":3}'
[ "$(cat "$(vol run-2)/status/exitCode" 2>&1)" = 3 ] && pass "run/2/status/exitCode is 3" || fail "run/2/status/exitCode: $(cat "$(vol run-2)/status/exitCode" 2>&1)"
logs_have test 'testing sha256:5e1f' && pass "\$(steps.build.results.digest) was substituted" || fail "step-test: $(podman logs "$(ctr test)" 2>&1 | tail -3)"
expect_exit fail 2; expect_file 3 out.err
expect_exit report 1; expect_file 4 out.err; expect_message report '{"key":"Reason","value":"Skipped","type":3}'
logs_have report 'must not run' && fail "step-report ran after a failed step" || pass "step-report did not run"
[ "$(stat -c %a "$(vol bin)/entrypoint")" = 311 ] && pass "/tekton/bin/entrypoint has mode 0311" || fail "/tekton/bin/entrypoint mode $(stat -c %a "$(vol bin)/entrypoint")"

if [ -n "${TEKTON_E2E_OUT:-}" ]; then
  mkdir -p "$TEKTON_E2E_OUT"
  for step in "${steps[@]}"; do
    exit_code "$step" > "$TEKTON_E2E_OUT/$step.exit"
    cp "$work/$step.termination" "$TEKTON_E2E_OUT/$step.termination" 2>/dev/null || message "$step" > "$TEKTON_E2E_OUT/$step.termination"
  done
fi
if [ "$failures" -gt 0 ]; then echo "e2e-tekton: $failures check(s) failed" >&2; exit 1; fi
echo "e2e-tekton: all checks passed" >&2
