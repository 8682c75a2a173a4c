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
#
# Then Tekton's own example TaskRuns (examples/tekton/taskruns/, copied unchanged from
# tektoncd/pipeline's examples/v1/taskruns), each rendered as the controller at Tekton's main renders
# it by tests/Emissary.TektonRender (tekton-render), run as its own pod, one after another, and
# checked against the outcome Tekton documents for it: every example there must succeed (Tekton's
# e2e runs them and waits for Succeeded), and some say more (steps skipped by `when`, results,
# what a step prints). Every image they name runs as the local busybox image (see ImageStandIns.cs).
# docs/tekton-conformance/examples.md lists them, what is mapped, and what each check proves.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

scripts/podman-setup.sh
[ -x artifacts/entrypoint ] || scripts/build.sh

work=$(mktemp -d)
pod=demo-taskrun-pod
steps=(clone build test fail report)
volumes=()
pods=("$pod")
cleanup() {
  for p in "${pods[@]}"; do podman pod rm -f "$p" >/dev/null 2>&1 || true; done
  [ ${#volumes[@]} -eq 0 ] || podman volume rm -f "${volumes[@]}" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "e2e-tekton: building images" >&2
buildah bud --isolation chroot -q -f Dockerfile.tekton -t localhost/emissary-entrypoint:e2e . >/dev/null
mkdir -p "$work/shell/root/bin"
cp /bin/busybox "$work/shell/root/bin/busybox"
for applet in $(/bin/busybox --list); do [ -e "$work/shell/root/bin/$applet" ] || ln -s busybox "$work/shell/root/bin/$applet"; done
# The stand-ins Tekton's examples need (tests/Emissary.TektonRender/ImageStandIns.cs): bash as
# busybox's ash, /usr/bin/env for `#!/usr/bin/env bash`, the bash image's docker-entrypoint.sh
# (runs its arguments, `bash` first when the first is an option) and the nop image's /ko-app/nop.
mkdir -p "$work/shell/root/usr/bin" "$work/shell/root/usr/local/bin" "$work/shell/root/ko-app" "$work/shell/root/tmp"
ln -s ../../bin/busybox "$work/shell/root/usr/bin/env"
printf '#!/bin/busybox ash\nexec /bin/busybox ash "$@"\n' > "$work/shell/root/bin/bash"
printf '#!/bin/sh\ncase "${1:-}" in ""|-*) set -- bash "$@";; esac\nexec "$@"\n' > "$work/shell/root/usr/local/bin/docker-entrypoint.sh"
printf '#!/bin/sh\nexit 0\n' > "$work/shell/root/ko-app/nop"
chmod 0755 "$work/shell/root/bin/bash" "$work/shell/root/usr/local/bin/docker-entrypoint.sh" "$work/shell/root/ko-app/nop"
chmod 1777 "$work/shell/root/tmp"
printf 'FROM scratch\nCOPY root/ /\nENV PATH=/usr/local/bin:/usr/bin:/bin\n' > "$work/shell/Dockerfile"
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

# ---- Tekton's example TaskRuns -------------------------------------------------------------------
echo "e2e-tekton: building tekton-render (tests/Emissary.TektonRender)" >&2
dotnet build tests/Emissary.TektonRender/Emissary.TektonRender.csproj -c Release -nologo -v quiet -o "$work/render" >/dev/null
tekton_render() { dotnet "$work/render/tekton-render.dll" "$@"; }

# play EXAMPLE [tekton-render options]: render examples/tekton/taskruns/EXAMPLE.yaml as the pod
# EXAMPLE-pod (the TaskRun named EXAMPLE), make its volumes, play it, wait until every step exited.
ex=
play() {
  ex=$1; shift
  local p="$ex-pod" claim n deadline
  pods+=("$p")
  if ! tekton_render pod "examples/tekton/taskruns/$ex.yaml" "$ex" --podman-volumes "$@" > "$work/$ex.yaml"; then fail "$ex: not rendered"; return 0; fi
  for claim in $(sed -n 's/^ *claimName: "\(.*\)"$/\1/p' "$work/$ex.yaml" | sort -u); do
    podman volume rm -f "$claim" >/dev/null 2>&1 || true
    podman volume create --opt o=uid=0,gid=0 "$claim" >/dev/null
    chmod 0777 "$(podman volume inspect "$claim" --format '{{.Mountpoint}}')"
    volumes+=("$claim")
  done
  podman pod rm -f "$p" >/dev/null 2>&1 || true
  # (podman 4.3 logs an error for every init container it removes once it has run: noise, kept out.)
  (cd "$work" && podman kube play --network none "$ex.yaml" >/dev/null 2>"$work/$ex.play.err") || { fail "$ex: podman kube play failed: $(tail -2 "$work/$ex.play.err")"; return 0; }
  n=$(grep -c '^  - name: "step-' "$work/$ex.yaml")
  deadline=$((SECONDS + 60))
  until [ "$(podman ps -a --filter "pod=$p" --filter status=exited --format '{{.Names}}' | grep -c -- "^$p-step-")" -ge "$n" ]; do
    [ $SECONDS -lt $deadline ] || { fail "$ex: steps still running after 60 s"; return 0; }
    sleep 0.2
  done
}
steps_of() { sed -n 's/^  - name: "\(step-[^"]*\)"$/\1/p' "$work/$ex.yaml"; }
exit_of() { podman inspect "$ex-pod-$1" --format '{{.State.ExitCode}}' 2>/dev/null || echo none; }
logs_of() { podman logs "$ex-pod-$1" 2>&1 || true; }
message_of() { # the step's termination message, read as the controller reads it: KEY TAB TYPE TAB VALUE lines
  # podman cp out of an exited container failed now and then while other tests used podman:
  # a few tries before the message counts as missing.
  local try
  for try in 1 2 3; do
    podman cp "$ex-pod-$1:/tekton/termination" "$work/$ex.$1.termination" >/dev/null 2>"$work/$ex.$1.cp.err" && break
    : > "$work/$ex.$1.termination"; sleep 0.5
  done
  tekton_render message "$work/$ex.$1.termination" 2>&1 || true
}
# Why a step counts as never started: what podman says of its container.
container_facts() {
  podman inspect "$ex-pod-$1" --format 'status={{.State.Status}} started={{.State.StartedAt}} error={{.State.Error}}' 2>&1 | head -1
  tail -1 "$work/$ex.$1.cp.err" 2>/dev/null
}
# The controller's verdict: the TaskRun succeeded when every step ended with exit code 0
# (a step with onError: continue exits 0 and records its own code).
succeeded() {
  local step code bad=""
  for step in $(steps_of); do
    code=$(exit_of "$step"); [ "$code" = 0 ] || bad+=" $step=$code"
    # A container that never started exits "0" too: the entrypoint's StartedAt proves it ran.
    grep -q '^StartedAt	3	' <<<"$(message_of "$step")" || bad+=" $step=never-started ($(container_facts "$step" | tr '\n' ' '))"
  done
  [ -z "$bad" ] && pass "$ex: succeeded, $(steps_of | wc -l) step(s) exited 0" || fail "$ex: failed:$bad"
}
exited() { local code; code=$(exit_of "$1"); [ "$code" = "$2" ] && pass "$ex: $1 exited $2" || fail "$ex: $1 exited $code, expected $2"; }
printed() { grep -qF -- "$2" <<<"$(logs_of "$1")" && pass "$ex: $1 printed '$2'" || fail "$ex: $1 did not print '$2': $(logs_of "$1" | tail -3)"; }
not_printed() { grep -qF -- "$2" <<<"$(logs_of "$1")" && fail "$ex: $1 printed '$2'" || pass "$ex: $1 did not print '$2'"; }
result() { # STEP KEY TYPE ERE: the message has KEY of TYPE whose value matches ERE
  local m; m=$(message_of "$1")
  grep -qE -- "^$2	$3	$4\$" <<<"$m" && pass "$ex: $1's message has $2 (type $3) matching $4" || fail "$ex: $1's message has no $2 (type $3) matching $4: $m"
}
skipped() { # STEP: when expressions false: exit 0, Reason Skipped in the message, the step did not run
  local m; m=$(message_of "$1")
  grep -qE -- "^Reason	3	Skipped\$" <<<"$m" && [ "$(exit_of "$1")" = 0 ] && pass "$ex: $1 was skipped (exit 0, Reason Skipped)" || fail "$ex: $1 not skipped: exit $(exit_of "$1"), message $m"
}

started_at() { date -d "$(message_of "$1" | sed -n 's/^StartedAt	3	//p')" +%s%3N 2>/dev/null || echo 0; }

# One function per example: its play and the outcome Tekton documents for it.
example_steps_run_in_order() {
  play steps-run-in-order
  succeeded
  # podman stamps both containers' end alike; the entrypoints' StartedAt (taken once a step's
  # wait is over) shows step-unnamed-1 began only after step-unnamed-0's `sleep 3`.
  a0=$(started_at step-unnamed-0); a1=$(started_at step-unnamed-1)
  [ $((a1 - a0)) -ge 3000 ] && pass "$ex: step-unnamed-1 started $((a1 - a0)) ms after step-unnamed-0 (which sleeps 3 s)" \
    || fail "$ex: step-unnamed-1 started $((a1 - a0)) ms after step-unnamed-0, expected >= 3000"
}

example_unnamed_steps() {
  play unnamed-steps
  succeeded
}

example_ignore_step_error() {
  play ignore-step-error
  succeeded
  result step-exit-with-1 ExitCode 3 1
  printed step-verify-step-path "the exit code can be accessed using the path variable"
  printed step-verify-step-path "the symlink exists which was created by the controller"
}

example_task_result() {
  play task-result
  succeeded
  result step-print-date-unix-timestamp current-date-unix-timestamp 1 '[0-9]+\\n'
  result step-print-date-human-readable current-date-human-readable 1 '.*[0-9]{4}\\n'
}

example_steptemplate_env_merge() {
  play steptemplate-env-merge
  succeeded
}

example_steptemplate_variable_interop() {
  play steptemplate-variable-interop
  succeeded
  printed step-foo "hello from ubuntu"
}

example_workingdir() {
  play workingdir
  succeeded
}

example_home_is_set() {
  play home-is-set
  succeeded
}

example_custom_env() {
  play custom-env
  succeeded
}

example_default_task_params() {
  play default_task_params
  succeeded
  printed step-echo-input "No input provided, but that's okay!"
}

example_array_default() {
  play array-default
  succeeded
  printed step-echo-params "foo bar foo-default bar-default baz"
}

example_entrypoint_resolution() {
  play entrypoint-resolution
  succeeded
  printed step-unnamed-2 hello
}

example_5080_entrypoint_init_regression() {
  play 5080-entrypoint-init-regression
  succeeded
  printed step-echo-cli "init foo bar"
}

example_object_param_result() {
  play object-param-result
  succeeded
  printed step-validate-object-params "validate the params.gitrepo.commit successfully"
  result step-write-object-result object-results 1 '\{"IMAGE_URL":"ar.com", "IMAGE_DIGEST":"sha234"\}'
}

example_stepaction_when() {
  play stepaction-when
  succeeded
  printed step-should-execute "I am a Step Action!!!"
  skipped step-should-skip
  not_printed step-should-skip skipskipskip
  printed step-should-continue blabalbaba
  result step-produce-step result2 4 foo
  skipped step-run-based-on-step-results
  not_printed step-run-based-on-step-results wooooooo
}

example_compressed_results() {
  play compressed-results --feature-flag enable-termination-message-compression=true
  succeeded
  result step-generate-digests digest-20 1 'gcr.io/my-project/image-20@sha256:b2c3d4e5f6a1.*19'
  size=$(wc -c < "$work/$ex.step-generate-digests.termination" 2>/dev/null || echo 0)
  head -c 5 "$work/$ex.step-generate-digests.termination" 2>/dev/null | grep -q tknz: && [ "$size" -le 4096 ] \
    && pass "$ex: the message is compressed (tknz:, $size bytes)" || fail "$ex: the message is not compressed within 4096 bytes ($size bytes)"
  result step-generate-digests digest-1 1 'gcr.io/my-project/image-1@sha256:a1b2c3d4e5f6.*'
}

example_task_artifacts() {
  play task-artifacts
  succeeded
  result step-produce-artifacts /tekton/artifacts/provenance.json 6 '.*"uri":"pkg:github/package-url/purl-spec@244fd47e07d1004f0aed9c".*'
}

example_produce_consume_artifacts() {
  play produce-consume-artifacts
  exited step-artifacts-producer 0
  result step-artifacts-producer /tekton/run/0/status/artifacts/provenance.json 5 '.*"buildOutput": true.*'
  printed step-artifacts-consumer 'pkg:example.github.com/inputs'
  echo "e2e-tekton: not checked: produce-consume-artifacts: step-artifacts-consumer-python (the stand-in image has no python3)" >&2
}

# TEKTON_E2E_ONLY="EXAMPLE ..." runs only those (while iterating); the demo pod above always runs.
for example in steps-run-in-order unnamed-steps ignore-step-error task-result steptemplate-env-merge steptemplate-variable-interop workingdir home-is-set custom-env default_task_params array-default entrypoint-resolution 5080-entrypoint-init-regression object-param-result stepaction-when compressed-results task-artifacts produce-consume-artifacts; do
  case " ${TEKTON_E2E_ONLY:-$example} " in *" $example "*) "example_${example//-/_}";; esac
done

if [ "$failures" -gt 0 ]; then echo "e2e-tekton: $failures check(s) failed" >&2; exit 1; fi
echo "e2e-tekton: all checks passed" >&2
