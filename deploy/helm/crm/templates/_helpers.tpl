{{/*
Names, labels and the per-service context shared by every template.
A "component context" ($c below) is a dict completed by crm.context:
  root: the chart's top-level context   name: service name (lead)
  svc:  serviceDefaults deep-merged with services.<name>
*/}}

{{- define "crm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "crm.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "crm.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "crm.labels" -}}
helm.sh/chart: {{ include "crm.chart" . }}
{{ include "crm.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: crm
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels every pod of the release carries; NetworkPolicies use them to mean "inside the release". */}}
{{- define "crm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "crm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Completes a component context in place: given (dict "root" $ "name" "lead"), sets "svc" to
serviceDefaults deep-merged with services.lead. Renders nothing; use it as
  {{- $c := dict "root" $ "name" $name }}{{- include "crm.context" $c }}
*/}}
{{- define "crm.context" -}}
{{- $_ := set . "svc" (mustMergeOverwrite (deepCopy .root.Values.serviceDefaults) (deepCopy (default dict (index .root.Values.services .name)))) }}
{{- end }}

{{/* Object name of service $c.name with an optional suffix: (list $c "api"). */}}
{{- define "crm.objectName" -}}
{{- $c := index . 0 }}
{{- $suffix := index . 1 }}
{{- $base := printf "%s-%s" (include "crm.fullname" $c.root) $c.name }}
{{- if $suffix }}{{ printf "%s-%s" $base $suffix | trunc 63 | trimSuffix "-" }}{{ else }}{{ $base | trunc 63 | trimSuffix "-" }}{{ end }}
{{- end }}

{{/* Selector labels of one workload: (list $c "api"). */}}
{{- define "crm.workloadSelectorLabels" -}}
{{- $c := index . 0 }}
{{ include "crm.selectorLabels" $c.root }}
app.kubernetes.io/component: {{ index . 1 }}
crm/service: {{ $c.name }}
{{- end }}

{{/* Labels of one workload's objects and pods: (list $c "api"). */}}
{{- define "crm.workloadLabels" -}}
{{- $c := index . 0 }}
{{ include "crm.labels" $c.root }}
app.kubernetes.io/component: {{ index . 1 }}
crm/service: {{ $c.name }}
{{- end }}

{{/* Labels of a service's shared objects (ServiceAccount, ConfigMap, Service). */}}
{{- define "crm.serviceLabels" -}}
{{ include "crm.labels" .root }}
crm/service: {{ .name }}
{{- end }}

{{/* Image reference of a service. */}}
{{- define "crm.image" -}}
{{- $root := .root }}
{{- $img := .svc.image }}
{{- $repo := $img.repository }}
{{- if not $repo }}
{{- $repo = printf "%s%s" $root.Values.image.repositoryPrefix .name }}
{{- with $root.Values.image.registry }}{{ $repo = printf "%s/%s" (trimSuffix "/" .) $repo }}{{ end }}
{{- end }}
{{- if $img.digest }}
{{- printf "%s@%s" $repo $img.digest }}
{{- else }}
{{- printf "%s:%s" $repo (toString (default (default $root.Chart.AppVersion $root.Values.image.tag) $img.tag)) }}
{{- end }}
{{- end }}

{{/* Name of the Secret a service reads. */}}
{{- define "crm.secretName" -}}
{{- default (include "crm.objectName" (list . "")) .svc.existingSecret }}
{{- end }}

{{/* grpc.health.v1 service name checked by the readiness probe: crm.<svc>.v1.<Svc>Service. */}}
{{- define "crm.healthService" -}}
{{- if .svc.healthService }}
{{- .svc.healthService }}
{{- else }}
{{- printf "crm.%s.v1.%sService" (.name | replace "-" "_") (.name | replace "-" " " | title | nospace) }}
{{- end }}
{{- end }}

{{/* Environment variable that carries a peer's address: ACCOUNT_GRPC_TARGET. */}}
{{- define "crm.peerEnvName" -}}
{{- printf "%s_GRPC_TARGET" (. | upper | replace "-" "_") }}
{{- end }}

{{/*
Rule files of a service (services.<name>.configFiles, merged onto serviceDefaults.configFiles):
each entry names one key of an existing ConfigMap or Secret, mounted read-only at
/etc/crm/<entry>/<key> in the processes it lists (api, worker; both when unset), and the
environment variable that gives the service that path. An entry with neither configMap nor
secret is declared but off: the service keeps its built-in default.
*/}}
{{- define "crm.configFiles.dir" -}}
/etc/crm/{{ . }}
{{- end }}

{{/*
Refuses what the schema cannot see on the merged entries: two sources, a missing env or key,
two entries setting one variable, and a file's variable also set in `env` (the shared ConfigMap
would hand it to processes that have no file). Renders nothing.
*/}}
{{- define "crm.configFiles.validate" -}}
{{- $seen := dict }}
{{- range $entry, $f := .svc.configFiles }}
{{- $where := printf "services.%s.configFiles.%s" $.name $entry }}
{{- if and $f.configMap $f.secret }}
{{- fail (printf "%s: set configMap or secret, not both" $where) }}
{{- end }}
{{- if or (not $f.env) (not $f.key) }}
{{- fail (printf "%s: env and key are required" $where) }}
{{- end }}
{{- if hasKey $seen $f.env }}
{{- fail (printf "%s: %s is already set by configFiles.%s" $where $f.env (get $seen $f.env)) }}
{{- end }}
{{- $_ := set $seen $f.env $entry }}
{{- if hasKey (default dict $.svc.env) $f.env }}
{{- fail (printf "services.%s.env.%s: set by %s, which mounts the file; do not set it in env" $.name $f.env $where) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The files one process mounts: (list $c "api"|"worker") -> YAML {files: [{name, env, kind,
source, key, path}]}, sorted by entry name. kind is configMap or secret.
*/}}
{{- define "crm.configFiles.forProcess" -}}
{{- $c := index . 0 }}
{{- $process := index . 1 }}
{{- $files := list }}
{{- range $entry, $f := $c.svc.configFiles }}
{{- if and (or $f.configMap $f.secret) (has $process (default (list "api" "worker") $f.processes)) }}
{{- $kind := ternary "configMap" "secret" (not (empty $f.configMap)) }}
{{- $files = append $files (dict "name" $entry "env" $f.env "kind" $kind "source" (default $f.secret $f.configMap) "key" $f.key "path" (printf "%s/%s" (include "crm.configFiles.dir" $entry) $f.key)) }}
{{- end }}
{{- end }}
{{- toYaml (dict "files" $files) }}
{{- end }}

{{/*
Volumes of those files, one per entry with only its key projected. 0444: readable by the
service's user whatever fsGroup is. Not optional: while the ConfigMap or Secret is missing the
pod does not start, rather than run on the built-in defaults.
*/}}
{{- define "crm.configFiles.volumes" -}}
{{- range . }}
- name: config-{{ .name }}
  {{- if eq .kind "configMap" }}
  configMap:
    name: {{ .source }}
  {{- else }}
  secret:
    secretName: {{ .source }}
  {{- end }}
    defaultMode: 0444
    items:
      - key: {{ .key | quote }}
        path: {{ .key | quote }}
{{- end }}
{{- end }}

{{/*
Checksum of the files of a pod template ((list $root $files)): their sources, keys and paths,
and, when the chart is installed or upgraded against a cluster (lookup answers; `helm template`
and dry runs get nothing), the content of each mounted key. A changed file then rolls the pods
at the next `helm upgrade`; the processes read their files at start only.
*/}}
{{- define "crm.configFiles.checksum" -}}
{{- $root := index . 0 }}
{{- $parts := list }}
{{- range index . 1 }}
{{- $obj := lookup "v1" (ternary "ConfigMap" "Secret" (eq .kind "configMap")) $root.Release.Namespace .source }}
{{- $content := or (index (default dict $obj.data) .key) (index (default dict $obj.binaryData) .key) }}
{{- $parts = append $parts (printf "%s=%s/%s/%s:%s" .env .kind .source .key (ternary (sha256sum (toString $content)) "" (not (empty $content)))) }}
{{- end }}
{{- $parts | join "\n" | sha256sum }}
{{- end }}

{{/*
"true" when the service's API pods carry a relay container (services.<name>.relay.separate, and a
database: without one there is no outbox, audit log or janitor work), else empty.
*/}}
{{- define "crm.relaySeparate" -}}
{{- if and .svc.database .svc.relay.separate }}true{{ end }}
{{- end }}

{{/*
"true" when the relay container is a native sidecar (an init container with restartPolicy: Always),
else empty: nativeSidecars true, or auto and the Kubernetes version the chart is rendered for is 1.29
or later (SidecarContainers on by default). That version is the cluster's under `helm install`, but
Helm's built-in default under `helm template` unless --kube-version says otherwise.
*/}}
{{- define "crm.nativeSidecars" -}}
{{- $mode := .Values.nativeSidecars }}
{{- if kindIs "bool" $mode }}
{{- if $mode }}true{{ end }}
{{- else if semverCompare ">=1.29-0" .Capabilities.KubeVersion.Version }}true{{ end }}
{{- end }}

{{/*
Pre-stop sleep of the relay container when it is a regular container (not a native sidecar): it
keeps relaying while the API container sleeps, drains and finishes its calls (their events are this
pod's last), then gets SIGTERM with marginSeconds left to finish its batch in flight.
*/}}
{{- define "crm.relayPreStopSeconds" -}}
{{- add .Values.shutdown.preStopSleepSeconds .Values.grpc.drainSeconds .Values.grpc.graceSeconds }}
{{- end }}

{{/*
terminationGracePeriodSeconds: pre-stop sleep + gRPC drain window + in-flight grace + margin. Either
way the relay gets SIGTERM when the API is done (or would be) and has the margin for its last batch.
*/}}
{{- define "crm.terminationGracePeriodSeconds" -}}
{{- add .Values.shutdown.preStopSleepSeconds .Values.grpc.drainSeconds .Values.grpc.graceSeconds .Values.shutdown.marginSeconds }}
{{- end }}

{{/*
An env value as a string. Numbers from a values file arrive as float64, which toString writes
as 1e+09: whole numbers are written as integers (TIER_AFFLUENT_AUM_VND: 1000000000 stays
"1000000000"; exact up to 2^53, quote anything larger).
*/}}
{{- define "crm.envValue" -}}
{{- if and (kindIs "float64" .) (eq . (float64 (int64 .))) }}
{{- int64 . | toString }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/*
Non-secret settings of a service as a YAML map (ConfigMap data; also inlined
into the migration hook, which runs before the ConfigMap exists).
*/}}
{{- define "crm.settings" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $settings := dict
  "CRM_ENV" $v.config.env
  "LOG_LEVEL" $v.config.logLevel
  "JWT_ALGORITHM" $v.config.jwt.algorithm
  "JWT_ISSUER" $v.config.jwt.issuer
  "JWT_AUDIENCE" $v.config.jwt.audience
  "GRPC_HOST" $v.grpc.host
  "GRPC_PORT" (toString $v.grpc.port)
  "METRICS_PORT" (toString $v.metrics.apiPort)
  "GRPC_DRAIN_SECONDS" (toString $v.grpc.drainSeconds)
  "GRPC_GRACE_SECONDS" (toString $v.grpc.graceSeconds)
  "GRPC_MAX_WORKERS" (toString $v.grpc.maxWorkers)
  "OTEL_SERVICE_NAME" (printf "crm-%s" .name)
}}
{{- if .svc.worker.enabled }}
{{- $_ := set $settings "WORKER_METRICS_PORT" (toString $v.metrics.workerPort) }}
{{- end }}
{{- /* Where the outbox relay, audit sealer and janitor run (crm_common.relay_process). */}}
{{- if .svc.database }}
{{- $separate := include "crm.relaySeparate" . }}
{{- $_ := set $settings "RELAY_IN_API" (ternary "false" "true" (eq $separate "true")) }}
{{- if $separate }}
{{- $_ := set $settings "RELAY_METRICS_PORT" (toString $v.metrics.relayPort) }}
{{- end }}
{{- end }}
{{- with $v.config.otel.endpoint }}
{{- $_ := set $settings "OTEL_EXPORTER_OTLP_ENDPOINT" . }}
{{- end }}
{{- /* The enabled services holding a person's data: each image knows only its own registry entry. */}}
{{- $pii := list }}
{{- range $other := keys $v.services | sortAlpha }}
{{- $otherCtx := dict "root" $root "name" $other }}
{{- include "crm.context" $otherCtx }}
{{- if and $otherCtx.svc.enabled $otherCtx.svc.pii }}
{{- $pii = append $pii $other }}
{{- end }}
{{- end }}
{{- $_ := set $settings "CRM_PII_SERVICES" (join "," $pii) }}
{{- /* A service holding personal data reaches the others' PersonalDataService (a person's export). */}}
{{- if .svc.pii }}
{{- range $other := $pii }}
{{- if ne $other $.name }}
{{- $_ := set $settings (include "crm.peerEnvName" $other) (printf "%s-%s:%v" (include "crm.fullname" $root) $other $v.grpc.port) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $peer := .svc.peers }}
{{- if not (hasKey $v.services $peer) }}
{{- fail (printf "services.%s.peers: %q is not a service of this chart (known: %s)" $.name $peer (keys $v.services | sortAlpha | join ", ")) }}
{{- end }}
{{- $peerCtx := dict "root" $root "name" $peer }}
{{- include "crm.context" $peerCtx }}
{{- if not $peerCtx.svc.enabled }}
{{- fail (printf "services.%s.peers: %q is disabled (services.%s.enabled=false)" $.name $peer $peer) }}
{{- end }}
{{- $_ := set $settings (include "crm.peerEnvName" $peer) (printf "%s-%s:%v" (include "crm.fullname" $root) $peer $v.grpc.port) }}
{{- end }}
{{- range $key, $value := .svc.env }}
{{- $_ := set $settings $key (include "crm.envValue" $value) }}
{{- end }}
{{- toYaml $settings }}
{{- end }}

{{/*
Secret-backed environment variables of a service (secretKeyRef only, never values); the same
list for the API, the worker and the migration Job. Every service reads PII_KEYS and
PII_INDEX_KEY: crm_common's settings refuse the dev keys with CRM_ENV=production. A service
without a database (database: false) gets no DATABASE_URL.
*/}}
{{- define "crm.secretEnv" -}}
{{- $keys := .root.Values.secrets.keys }}
{{- $secret := include "crm.secretName" . }}
{{- if .svc.database }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.databaseUrl }}
{{- end }}
- name: AMQP_URI
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.amqpUri }}
- name: JWT_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.jwtKey }}
- name: PII_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.piiKeys }}
- name: PII_INDEX_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.piiIndexKey }}
{{- end }}

{{/* Per-container environment: pod identity for telemetry. */}}
{{- define "crm.containerEnv" -}}
{{- $c := index . 0 }}
{{- $component := index . 1 }}
{{- $v := $c.root.Values }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.namespace=crm,service.instance.id=$(POD_NAME),deployment.environment=%s,crm.component=%s%s" $v.config.env $component (ternary (printf ",%s" $v.config.otel.resourceAttributes) "" (ne $v.config.otel.resourceAttributes "")) | quote }}
{{- end }}

{{/*
Checkov suppressions of a service pod owner ((list $c "workload"|"test")), each with its reason:
- CKV_K8S_35 (secrets as env vars): the services read settings from the environment
  (12-factor; house style: secrets only through secretKeyRef); values never sit in the manifest.
- CKV_K8S_43 (digest), only while no digest is set: release tags are immutable in the
  bank's registry; the pipeline pins with services.<name>.image.digest.
- CKV_K8S_22 / CKV_K8S_15, only with config.env=dev: Tilt's live_update writes into the
  container and runs images it built and loaded itself.
- CKV_K8S_8 / CKV_K8S_9 on `helm test` pods: one-shot checks, nothing to probe.
*/}}
{{- define "crm.checkovSkips" -}}
{{- $c := index . 0 }}
{{- $kind := index . 1 }}
{{- $v := $c.root.Values }}
{{- $skips := list }}
{{- if eq $kind "workload" }}
{{- $skips = append $skips "CKV_K8S_35=settings come from env; secrets only via secretKeyRef, never inlined" }}
{{- else }}
{{- $skips = append $skips "CKV_K8S_8=one-shot helm test pod, nothing to probe" }}
{{- $skips = append $skips "CKV_K8S_9=one-shot helm test pod, nothing to probe" }}
{{- end }}
{{- if not $c.svc.image.digest }}
{{- $skips = append $skips "CKV_K8S_43=immutable release tag; pin with services.<name>.image.digest" }}
{{- end }}
{{- if eq $v.config.env "dev" }}
{{- if not $v.securityContext.readOnlyRootFilesystem }}
{{- $skips = append $skips "CKV_K8S_22=dev only: Tilt live_update writes into the container" }}
{{- end }}
{{- if ne $v.image.pullPolicy "Always" }}
{{- $skips = append $skips "CKV_K8S_15=dev only: Tilt runs images it built and loaded itself" }}
{{- end }}
{{- end }}
{{- range $i, $s := $skips }}
checkov.io/skip{{ add1 $i }}: {{ $s | quote }}
{{- end }}
{{- end }}
