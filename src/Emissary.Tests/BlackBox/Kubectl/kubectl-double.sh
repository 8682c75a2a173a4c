#!/bin/sh
# A test double of kubectl for the kubectl-emissary black-box tests (KubectlPluginTests).
# Every call is appended to $KUBECTL_DOUBLE_LOG, one line, arguments separated by '|'.
#   kubectl [FLAGS] get pod POD -o json    prints $KUBECTL_DOUBLE_POD (a file the test wrote)
#   kubectl [FLAGS] exec POD -c C -- ARGS  runs ARGS in the podman container POD-C (podman kube
#                                          play names a pod's containers so), or, with
#                                          $KUBECTL_DOUBLE_EXEC set, misbehaves as it says:
#                                            flood  prints without end
#                                            hang   writes its pid to $KUBECTL_DOUBLE_PIDS, sleeps
# FLAGS (--namespace=, --context=, --kubeconfig=) are recorded and skipped.
( IFS='|'; printf '%s\n' "$*" ) >> "$KUBECTL_DOUBLE_LOG"
while :; do
  case $1 in
    --namespace=*|--context=*|--kubeconfig=*) shift ;;
    *) break ;;
  esac
done
case $1 in
  get)
    [ "$2 $4 $5" = "pod -o json" ] || { echo "error: the double takes: get pod POD -o json" >&2; exit 1; }
    [ -n "$KUBECTL_DOUBLE_GET_ERROR" ] && { echo "$KUBECTL_DOUBLE_GET_ERROR" >&2; exit 1; }
    exec cat "$KUBECTL_DOUBLE_POD" ;;
  exec)
    [ "$3" = -c ] && [ "$5" = -- ] || { echo "error: the double takes: exec POD -c CONTAINER -- ARGS" >&2; exit 1; }
    pod=$2 container=$4
    shift 5
    case $KUBECTL_DOUBLE_EXEC in
      flood) exec yes '[{"name":"x","state":"running"},' ;;
      hang) echo $$ >> "$KUBECTL_DOUBLE_PIDS"; exec sleep 3600 ;;
    esac
    exec podman exec "$pod-$container" "$@" ;;
  *)
    echo "error: the double has no verb '$1'" >&2; exit 1 ;;
esac
