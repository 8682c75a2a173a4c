using System.Text.Json.Nodes;

namespace Emissary.Tests.Unit.Webhook;

/// <summary>
/// AdmissionReviews in the shape the API server sends (Kubernetes' "Dynamic Admission Control"
/// documentation, admission.k8s.io/v1): the pod as a ReplicaSet creates it, after defaulting
/// (generateName, ownerReferences, terminationMessagePath, the service-account token volume, ...),
/// with its step graph in emissary.dev/ annotations, since the API server drops unknown fields.
/// </summary>
internal static class WebhookFixtures
{
    /// <summary>A typical 5-container pod: a database sidecar, a migration, the app after it, a cache warmer, a log shipper sidecar.</summary>
    public const string FiveContainerPod = """
        {
          "apiVersion": "v1",
          "kind": "Pod",
          "metadata": {
            "generateName": "shop-7d9f8b6c5-",
            "namespace": "shop",
            "labels": {"app": "shop", "pod-template-hash": "7d9f8b6c5"},
            "annotations": {
              "emissary.dev/db.sidecar": "true",
              "emissary.dev/logs.sidecar": "true",
              "emissary.dev/migrate.timeout": "5m",
              "emissary.dev/app.waitForTermination": "migrate",
              "emissary.dev/warm.waitForTermination": "migrate",
              "emissary.dev/warm.onError": "continue"
            },
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "shop-7d9f8b6c5", "uid": "6f1b3c52-8d4e-4a8c-9b61-0f3e2a7d9c11", "controller": true, "blockOwnerDeletion": true}]
          },
          "spec": {
            "volumes": [{"name": "kube-api-access-x7k2p", "projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}], "defaultMode": 420}}],
            "containers": [
              {"name": "db", "image": "postgres:16", "command": ["docker-entrypoint.sh", "postgres"], "ports": [{"containerPort": 5432, "protocol": "TCP"}], "resources": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "256Mi"}}, "volumeMounts": [{"name": "kube-api-access-x7k2p", "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}], "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"},
              {"name": "migrate", "image": "shop:1.4.2", "command": ["/app/shop", "migrate"], "args": ["--database", "postgres://localhost:5432/shop"], "env": [{"name": "LOG_LEVEL", "value": "info"}], "resources": {}, "volumeMounts": [{"name": "kube-api-access-x7k2p", "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}], "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"},
              {"name": "app", "image": "shop:1.4.2", "command": ["/app/shop"], "args": ["serve", "--port", "8080"], "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}], "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}, "resources": {}, "volumeMounts": [{"name": "kube-api-access-x7k2p", "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}], "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"},
              {"name": "warm", "image": "curlimages/curl:8.8.0", "command": ["curl", "-fsS", "http://localhost:8080/warm"], "resources": {}, "volumeMounts": [{"name": "kube-api-access-x7k2p", "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}], "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"},
              {"name": "logs", "image": "fluent/fluent-bit:3.0", "command": ["/fluent-bit/bin/fluent-bit", "-c", "/fluent-bit/etc/fluent-bit.conf"], "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}, "volumeMounts": [{"name": "kube-api-access-x7k2p", "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}], "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}, {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            "priority": 0,
            "enableServiceLinks": true,
            "preemptionPolicy": "PreemptLowerPriority"
          },
          "status": {}
        }
        """;

    /// <summary>A pod whose graph names a container that is not there: refused, with rewrite's did-you-mean.</summary>
    public const string InvalidGraphPod = """
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "broken", "namespace": "shop", "annotations": {"emissary.dev/app.waitForTermination": "migrat"}},
         "spec": {"containers": [
           {"name": "migrate", "image": "shop:1", "command": ["/app/shop", "migrate"]},
           {"name": "app", "image": "shop:1", "command": ["/app/shop", "serve"]}]}}
        """;

    /// <summary>An AdmissionReview v1 request for <paramref name="pod"/>, as in Kubernetes' documentation.</summary>
    public static string Review(string pod, string uid = "705ab4f5-6393-11e8-b7cc-42010a800002", string operation = "CREATE",
        string kind = "Pod", string resource = "pods", string? subResource = null)
    {
        JsonNode podNode = JsonNode.Parse(pod)!;
        string? name = podNode["metadata"]?["name"]?.GetValue<string>();
        var request = new JsonObject
        {
            ["uid"] = uid,
            ["kind"] = new JsonObject { ["group"] = "", ["version"] = "v1", ["kind"] = kind },
            ["resource"] = new JsonObject { ["group"] = "", ["version"] = "v1", ["resource"] = resource },
            ["requestKind"] = new JsonObject { ["group"] = "", ["version"] = "v1", ["kind"] = kind },
            ["requestResource"] = new JsonObject { ["group"] = "", ["version"] = "v1", ["resource"] = resource },
            ["name"] = name,
            ["namespace"] = podNode["metadata"]?["namespace"]?.GetValue<string>() ?? "default",
            ["operation"] = operation,
            ["userInfo"] = new JsonObject
            {
                ["username"] = "system:serviceaccount:kube-system:replicaset-controller",
                ["uid"] = "a3b4c5d6-e7f8-4a9b-8c0d-1e2f3a4b5c6d",
                ["groups"] = new JsonArray("system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"),
            },
            ["object"] = podNode,
            ["oldObject"] = null,
            ["dryRun"] = false,
            ["options"] = new JsonObject { ["apiVersion"] = "meta.k8s.io/v1", ["kind"] = "CreateOptions" },
        };
        if (subResource is not null)
        {
            request["subResource"] = subResource;
        }
        return new JsonObject { ["apiVersion"] = "admission.k8s.io/v1", ["kind"] = "AdmissionReview", ["request"] = request }.ToJsonString();
    }

    /// <summary>The pod with one more annotation.</summary>
    public static string Annotated(string pod, string key, string value)
    {
        JsonNode node = JsonNode.Parse(pod)!;
        var metadata = node["metadata"]!.AsObject();
        if (metadata["annotations"] is not JsonObject annotations)
        {
            annotations = new JsonObject();
            metadata["annotations"] = annotations;
        }
        annotations[key] = value;
        return node.ToJsonString();
    }

    /// <summary>
    /// A pod of <paramref name="containers"/> steps in a chain (each waits for the one before it,
    /// through emissary.dev/NAME.waitForTermination), each script padded with a comment of
    /// <paramref name="padding"/> characters: the large pods of issue #22. (The rewriter rewrites
    /// commands, so the padding is in the patch, which replaces each command whole.)
    /// </summary>
    public static string ChainPod(int containers, int padding = 0)
    {
        var annotations = new JsonObject();
        var list = new JsonArray();
        for (int i = 0; i < containers; i++)
        {
            var container = new JsonObject
            {
                ["name"] = $"c{i}",
                ["image"] = "busybox:1.36",
                ["command"] = new JsonArray("sh", "-c", padding > 0 ? $"echo step {i} # {new string('x', padding)}" : $"echo step {i}"),
                ["terminationMessagePath"] = "/dev/termination-log",
                ["terminationMessagePolicy"] = "File",
                ["imagePullPolicy"] = "IfNotPresent",
            };
            list.Add(container);
            if (i > 0)
            {
                annotations[$"emissary.dev/c{i}.waitForTermination"] = $"c{i - 1}";
            }
        }
        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = new JsonObject { ["name"] = $"chain-{containers}", ["namespace"] = "shop", ["annotations"] = annotations },
            ["spec"] = new JsonObject { ["containers"] = list, ["restartPolicy"] = "Never" },
        }.ToJsonString();
    }
}
