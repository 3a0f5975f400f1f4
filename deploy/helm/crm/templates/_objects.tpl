{{/*
Object templates shared by every service; templates/component.yaml renders
them once per entry of .Values.services. Each takes a component context $c
(see crm.context in _helpers.tpl), or (list $c "<workload>").
*/}}

{{/* ServiceAccount shared by the API and worker of a service; no API token is mounted. */}}
{{- define "crm.objects.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "crm.objectName" (list . "") }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "crm.serviceLabels" . | trim | nindent 4 }}
automountServiceAccountToken: false
{{- end }}

{{/* Non-secret settings of a service. */}}
{{- define "crm.objects.configMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "crm.objectName" (list . "") }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "crm.serviceLabels" . | trim | nindent 4 }}
data:
  {{- include "crm.settings" . | trim | nindent 2 }}
{{- end }}

{{/* Service in front of the API pods: gRPC (h2c), metrics, and the relay container's metrics. */}}
{{- define "crm.objects.service" -}}
{{- $v := .root.Values }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "crm.objectName" (list . "") }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "crm.serviceLabels" . | trim | nindent 4 }}
  {{- with .svc.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ .svc.service.type }}
  selector:
    {{- include "crm.workloadSelectorLabels" (list . "api") | trim | nindent 4 }}
  ports:
    - name: grpc
      port: {{ $v.grpc.port }}
      targetPort: grpc
      protocol: TCP
      appProtocol: kubernetes.io/h2c
    - name: metrics
      port: {{ $v.metrics.apiPort }}
      targetPort: metrics
      protocol: TCP
      appProtocol: http
    {{- if include "crm.relaySeparate" . }}
    {{- /* A number, not the port's name: Endpoints and EndpointSlices resolve the named ports of native
    sidecars (init containers) only from Kubernetes 1.32 or so (kubernetes#127976, #128850). */}}
    - name: relay-metrics
      port: {{ $v.metrics.relayPort }}
      targetPort: {{ $v.metrics.relayPort }}
      protocol: TCP
      appProtocol: http
    {{- end }}
{{- end }}

{{/* Container security context, shared by every container of the chart. */}}
{{- define "crm.containerSecurityContext" -}}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- end }}

{{/* Pod-level fields shared by every pod of a service: (list $c "<serviceAccountName>" ["<extra volumes YAML>"]). */}}
{{- define "crm.podCommon" -}}
{{- $c := index . 0 }}
{{- $v := $c.root.Values }}
serviceAccountName: {{ index . 1 }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ $v.tmpSizeLimit }}
{{- if gt (len .) 2 }}
{{- with index . 2 }}
  {{- . | trim | nindent 2 }}
{{- end }}
{{- end }}
{{- end }}

{{/* API or worker Deployment: (list $c "api"|"worker"); the API pod carries the relay container when crm.relaySeparate (crm.relayContainer). */}}
{{- define "crm.objects.deployment" -}}
{{- $c := index . 0 }}
{{- $component := index . 1 }}
{{- $w := index $c.svc $component }}
{{- $v := $c.root.Values }}
{{- $isApi := eq $component "api" }}
{{- $metricsPort := ternary $v.metrics.apiPort $v.metrics.workerPort $isApi }}
{{- $files := (include "crm.configFiles.forProcess" (list $c $component) | fromYaml).files }}
{{- $relay := and $isApi (include "crm.relaySeparate" $c) }}
{{- $native := include "crm.nativeSidecars" $c.root }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "crm.objectName" (list $c $component) }}
  namespace: {{ $c.root.Release.Namespace }}
  labels:
    {{- include "crm.workloadLabels" (list $c $component) | trim | nindent 4 }}
  annotations:
    {{- include "crm.checkovSkips" (list $c "workload") | trim | nindent 4 }}
spec:
  {{- if not $w.autoscaling.enabled }}
  replicas: {{ $w.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  selector:
    matchLabels:
      {{- include "crm.workloadSelectorLabels" (list $c $component) | trim | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "crm.workloadLabels" (list $c $component) | trim | nindent 8 }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include "crm.objects.configMap" $c | sha256sum }}
        {{- if $files }}
        checksum/config-files: {{ include "crm.configFiles.checksum" (list $c.root $files) }}
        {{- end }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- include "crm.podCommon" (list $c (include "crm.objectName" (list $c "")) (include "crm.configFiles.volumes" $files)) | trim | nindent 6 }}
      terminationGracePeriodSeconds: {{ include "crm.terminationGracePeriodSeconds" $c.root }}
      {{- with $w.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $v.topologySpread.enabled }}
      topologySpreadConstraints:
        {{- range $key := $v.topologySpread.topologyKeys }}
        - maxSkew: {{ $v.topologySpread.maxSkew }}
          topologyKey: {{ $key }}
          whenUnsatisfiable: {{ $v.topologySpread.whenUnsatisfiable }}
          labelSelector:
            matchLabels:
              {{- include "crm.workloadSelectorLabels" (list $c $component) | trim | nindent 14 }}
        {{- end }}
      {{- end }}
      {{- if and $relay $native }}
      initContainers:
        {{- include "crm.relayContainer" (list $c true) | trim | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ $component }}
          image: {{ include "crm.image" $c | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          command:
            {{- range $v.commandPrefix }}
            - {{ . | quote }}
            {{- end }}
            - crm-{{ $c.name }}
            - {{ $component }}
          ports:
            {{- if $isApi }}
            - name: grpc
              containerPort: {{ $v.grpc.port }}
              protocol: TCP
            {{- end }}
            - name: metrics
              containerPort: {{ $metricsPort }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "crm.objectName" (list $c "") }}
          env:
            {{- include "crm.secretEnv" $c | trim | nindent 12 }}
            {{- include "crm.containerEnv" (list $c $component) | trim | nindent 12 }}
            {{- range $files }}
            - name: {{ .env }}
              value: {{ .path | quote }}
            {{- end }}
          {{- if $isApi }}
          startupProbe:
            grpc:
              port: {{ $v.grpc.port }}
            {{- toYaml $v.probes.startup | nindent 12 }}
          livenessProbe:
            grpc:
              port: {{ $v.grpc.port }}
            {{- toYaml $v.probes.liveness | nindent 12 }}
          readinessProbe:
            grpc:
              port: {{ $v.grpc.port }}
              service: {{ include "crm.healthService" $c }}
            {{- toYaml $v.probes.readiness | nindent 12 }}
          {{- else }}
          {{- /* The worker serves no gRPC; its metrics listener is up only while the process runs. */}}
          startupProbe:
            tcpSocket:
              port: metrics
            {{- toYaml $v.probes.startup | nindent 12 }}
          livenessProbe:
            tcpSocket:
              port: metrics
            {{- toYaml $v.probes.liveness | nindent 12 }}
          readinessProbe:
            tcpSocket:
              port: metrics
            {{- toYaml $v.probes.readiness | nindent 12 }}
          {{- end }}
          {{- if gt (int $v.shutdown.preStopSleepSeconds) 0 }}
          lifecycle:
            preStop:
              exec:
                command: ["sleep", "{{ $v.shutdown.preStopSleepSeconds }}"]
          {{- end }}
          resources:
            {{- toYaml $w.resources | nindent 12 }}
          {{- include "crm.containerSecurityContext" $c.root | trim | nindent 10 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- range $files }}
            - name: config-{{ .name }}
              mountPath: {{ include "crm.configFiles.dir" .name }}
              readOnly: true
            {{- end }}
        {{- if and $relay (not $native) }}
        {{- include "crm.relayContainer" (list $c false) | trim | nindent 8 }}
        {{- end }}
{{- end }}

{{/*
The relay container of an API pod ((list $c native)): the relay process beside the API
(crm_common.relay_process), same image, settings and Secret, its own metrics. Native (a sidecar in
initContainers, restartPolicy Always): the kubelet starts it before the API, starts the API once its
startup probe passes, and sends it SIGTERM only after the API has exited, so it needs no pre-stop
sleep. Otherwise a regular container that sleeps through the API's drain (crm.relayPreStopSeconds).
*/}}
{{- define "crm.relayContainer" -}}
{{- $c := index . 0 }}
{{- $native := index . 1 }}
{{- $v := $c.root.Values }}
- name: relay
  {{- if $native }}
  restartPolicy: Always
  {{- end }}
  image: {{ include "crm.image" $c | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  command:
    {{- range $v.commandPrefix }}
    - {{ . | quote }}
    {{- end }}
    - crm-{{ $c.name }}
    - relay
  ports:
    - name: relay-metrics
      containerPort: {{ $v.metrics.relayPort }}
      protocol: TCP
  envFrom:
    - configMapRef:
        name: {{ include "crm.objectName" (list $c "") }}
  env:
    {{- include "crm.secretEnv" $c | trim | nindent 4 }}
    {{- include "crm.containerEnv" (list $c "relay") | trim | nindent 4 }}
  {{- /* /metrics answers while the process runs (a daemon thread of its own). */}}
  startupProbe:
    httpGet:
      path: /metrics
      port: relay-metrics
    {{- toYaml $v.probes.startup | nindent 4 }}
  livenessProbe:
    httpGet:
      path: /metrics
      port: relay-metrics
    {{- toYaml $v.probes.liveness | nindent 4 }}
  readinessProbe:
    httpGet:
      path: /metrics
      port: relay-metrics
    {{- toYaml $v.probes.readiness | nindent 4 }}
  {{- if not $native }}
  lifecycle:
    preStop:
      exec:
        command: ["sleep", "{{ include "crm.relayPreStopSeconds" $c.root }}"]
  {{- end }}
  resources:
    {{- toYaml $c.svc.relay.resources | nindent 4 }}
  {{- include "crm.containerSecurityContext" $c.root | trim | nindent 2 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
{{- end }}

{{/* HorizontalPodAutoscaler of a workload: (list $c "api"|"worker"). */}}
{{- define "crm.objects.hpa" -}}
{{- $c := index . 0 }}
{{- $component := index . 1 }}
{{- $a := (index $c.svc $component).autoscaling }}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) }}
{{- fail (printf "services.%s.%s.autoscaling: minReplicas (%v) is greater than maxReplicas (%v)" $c.name $component $a.minReplicas $a.maxReplicas) }}
{{- end }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "crm.objectName" (list $c $component) }}
  namespace: {{ $c.root.Release.Namespace }}
  labels:
    {{- include "crm.workloadLabels" (list $c $component) | trim | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "crm.objectName" (list $c $component) }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
{{- end }}

{{/* PodDisruptionBudget of a workload: (list $c "api"|"worker"). */}}
{{- define "crm.objects.pdb" -}}
{{- $c := index . 0 }}
{{- $component := index . 1 }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "crm.objectName" (list $c $component) }}
  namespace: {{ $c.root.Release.Namespace }}
  labels:
    {{- include "crm.workloadLabels" (list $c $component) | trim | nindent 4 }}
spec:
  maxUnavailable: {{ (index $c.svc $component).pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "crm.workloadSelectorLabels" (list $c $component) | trim | nindent 6 }}
{{- end }}

{{/* Egress rule to the cluster DNS. */}}
{{- define "crm.egress.dns" -}}
- to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .Values.networkPolicy.dns.podSelector | nindent 8 }}
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end }}

{{/* Egress rules to PostgreSQL (CIDRs from values, plus the dev pod when dev.enabled). */}}
{{- define "crm.egress.postgresql" -}}
{{- $np := .Values.networkPolicy.postgresql }}
{{- if $np.cidrs }}
- to:
    {{- range $np.cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    {{- range $np.ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- end }}
{{- if .Values.dev.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "crm.selectorLabels" . | trim | nindent 10 }}
          app.kubernetes.io/component: postgresql
  ports:
    - protocol: TCP
      port: 5432
{{- end }}
{{- end }}

{{/* Egress rules to RabbitMQ (CIDRs from values, plus the dev pod when dev.enabled). */}}
{{- define "crm.egress.rabbitmq" -}}
{{- $np := .Values.networkPolicy.rabbitmq }}
{{- if $np.cidrs }}
- to:
    {{- range $np.cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    {{- range $np.ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- end }}
{{- if .Values.dev.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "crm.selectorLabels" . | trim | nindent 10 }}
          app.kubernetes.io/component: rabbitmq
  ports:
    - protocol: TCP
      port: 5672
{{- end }}
{{- end }}

{{/* Egress rule to the gRPC APIs of the other services of the release. */}}
{{- define "crm.egress.peers" -}}
- to:
    - podSelector:
        matchLabels:
          {{- include "crm.selectorLabels" . | trim | nindent 10 }}
          app.kubernetes.io/component: api
  ports:
    - protocol: TCP
      port: {{ .Values.grpc.port }}
{{- end }}

{{/* Ingress rule for the metrics port. */}}
{{- define "crm.ingress.metrics" -}}
{{- $c := index . 0 }}
{{- $port := index . 1 }}
- ports:
    - protocol: TCP
      port: {{ $port }}
  {{- with $c.root.Values.networkPolicy.metricsFrom }}
  from:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
NetworkPolicy of one workload: (list $c "api"|"worker"|"migrate").
API: gRPC from the release (from anywhere allowed by exposedFrom when exposed), metrics (and the
relay container's) from monitoring.
Worker: metrics only. Migration: no ingress; egress to DNS and PostgreSQL only. A service without
a database (database: false) gets no PostgreSQL egress.
*/}}
{{- define "crm.objects.networkPolicy" -}}
{{- $c := index . 0 }}
{{- $component := index . 1 }}
{{- $v := $c.root.Values }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "crm.objectName" (list $c $component) }}
  namespace: {{ $c.root.Release.Namespace }}
  labels:
    {{- include "crm.workloadLabels" (list $c $component) | trim | nindent 4 }}
  {{- if and (eq $component "migrate") $c.svc.migrations.hook }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-10"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
  {{- end }}
spec:
  podSelector:
    matchLabels:
      {{- include "crm.workloadSelectorLabels" (list $c $component) | trim | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  {{- if eq $component "migrate" }}
  ingress: []
  egress:
    {{- include "crm.egress.dns" $c.root | trim | nindent 4 }}
    {{- include "crm.egress.postgresql" $c.root | trim | nindent 4 }}
  {{- else }}
  ingress:
    {{- if eq $component "api" }}
    - ports:
        - protocol: TCP
          port: {{ $v.grpc.port }}
      {{- if $c.svc.exposed }}
      {{- with $v.networkPolicy.exposedFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- else }}
      from:
        - podSelector:
            matchLabels:
              {{- include "crm.selectorLabels" $c.root | trim | nindent 14 }}
      {{- end }}
    {{- include "crm.ingress.metrics" (list $c $v.metrics.apiPort) | trim | nindent 4 }}
    {{- if include "crm.relaySeparate" $c }}
    {{- include "crm.ingress.metrics" (list $c $v.metrics.relayPort) | trim | nindent 4 }}
    {{- end }}
    {{- else }}
    {{- include "crm.ingress.metrics" (list $c $v.metrics.workerPort) | trim | nindent 4 }}
    {{- end }}
  egress:
    {{- include "crm.egress.dns" $c.root | trim | nindent 4 }}
    {{- if $c.svc.database }}
    {{- include "crm.egress.postgresql" $c.root | trim | nindent 4 }}
    {{- end }}
    {{- include "crm.egress.rabbitmq" $c.root | trim | nindent 4 }}
    {{- include "crm.egress.peers" $c.root | trim | nindent 4 }}
    {{- with $v.networkPolicy.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end }}

{{/* ServiceAccount of the migration Job (a hook itself, so it exists before the Job). */}}
{{- define "crm.objects.migrationServiceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "crm.objectName" (list . "migrate") }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "crm.workloadLabels" (list . "migrate") | trim | nindent 4 }}
  {{- if .svc.migrations.hook }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-10"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
  {{- end }}
automountServiceAccountToken: false
{{- end }}

{{/*
Migration Job: `crm-<service> migrate` against the service's own database.
As a pre-install/pre-upgrade hook it runs before the ConfigMap exists, so the
settings are inlined; the Secret is external and already there.
*/}}
{{- define "crm.objects.migrationJob" -}}
{{- $m := .svc.migrations }}
{{- $v := .root.Values }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "crm.objectName" (list . "migrate") }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "crm.workloadLabels" (list . "migrate") | trim | nindent 4 }}
  annotations:
    {{- if $m.hook }}
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "0"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
    {{- end }}
    {{- include "crm.checkovSkips" (list . "workload") | trim | nindent 4 }}
spec:
  backoffLimit: {{ $m.backoffLimit }}
  activeDeadlineSeconds: {{ $m.activeDeadlineSeconds }}
  template:
    metadata:
      labels:
        {{- include "crm.workloadLabels" (list . "migrate") | trim | nindent 8 }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $v.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      restartPolicy: Never
      {{- include "crm.podCommon" (list . (include "crm.objectName" (list . "migrate"))) | trim | nindent 6 }}
      containers:
        - name: migrate
          image: {{ include "crm.image" . | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          command:
            - crm-{{ .name }}
            - migrate
          env:
            {{- range $key, $value := include "crm.settings" . | fromYaml }}
            - name: {{ $key }}
              value: {{ $value | quote }}
            {{- end }}
            {{- include "crm.secretEnv" . | trim | nindent 12 }}
            {{- include "crm.containerEnv" (list . "migrate") | trim | nindent 12 }}
          resources:
            {{- toYaml $m.resources | nindent 12 }}
          {{- include "crm.containerSecurityContext" .root | trim | nindent 10 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
{{- end }}

{{/* ServiceMonitor scraping the API pods through the Service's metrics ports (the API's, the relay container's). */}}
{{- define "crm.objects.serviceMonitor" -}}
{{- $sm := .root.Values.serviceMonitor }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "crm.objectName" (list . "api") }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "crm.workloadLabels" (list . "api") | trim | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "crm.selectorLabels" .root | trim | nindent 6 }}
      crm/service: {{ .name }}
  namespaceSelector:
    matchNames:
      - {{ .root.Release.Namespace }}
  endpoints:
    - port: metrics
      path: /metrics
      interval: {{ $sm.interval }}
      scrapeTimeout: {{ $sm.scrapeTimeout }}
    {{- if include "crm.relaySeparate" . }}
    - port: relay-metrics
      path: /metrics
      interval: {{ $sm.interval }}
      scrapeTimeout: {{ $sm.scrapeTimeout }}
    {{- end }}
{{- end }}

{{/* PodMonitor scraping the worker pods (they have no Service). */}}
{{- define "crm.objects.podMonitor" -}}
{{- $sm := .root.Values.serviceMonitor }}
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata:
  name: {{ include "crm.objectName" (list . "worker") }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "crm.workloadLabels" (list . "worker") | trim | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "crm.workloadSelectorLabels" (list . "worker") | trim | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ .root.Release.Namespace }}
  podMetricsEndpoints:
    - port: metrics
      path: /metrics
      interval: {{ $sm.interval }}
      scrapeTimeout: {{ $sm.scrapeTimeout }}
{{- end }}
