{{- define "gatehouse.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end -}}

{{- define "gatehouse.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "gatehouse.secretName" -}}
{{- default (printf "%s-secrets" (include "gatehouse.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Settings that hold credentials: they live in the Secret, never in the ConfigMap. */}}
{{- define "gatehouse.secretKeys" -}}
JWT_SECRET ENCRYPTION_KEY MONGODB_URI REDIS_URL REFLEX_REDIS_URL ADMIN_EMAIL ADMIN_PASSWORD SMTP_USER SMTP_PASSWORD METRICS_TOKEN
{{- end -}}

{{/* How many API pods can run at once: the HPA's ceiling when it is on. */}}
{{- define "gatehouse.apiMaxPods" -}}
{{- if .Values.api.autoscaling.enabled -}}
{{- max (int .Values.api.replicas) (int .Values.api.autoscaling.maxReplicas) -}}
{{- else -}}
{{- int .Values.api.replicas -}}
{{- end -}}
{{- end -}}

{{/* CHROMA_URL: as configured, else the release's own Chroma server when chroma.enabled. */}}
{{- define "gatehouse.chromaUrl" -}}
{{- if .Values.config.CHROMA_URL -}}
{{- .Values.config.CHROMA_URL -}}
{{- else if .Values.chroma.enabled -}}
{{- printf "http://%s-chroma:%d" (include "gatehouse.fullname" .) (int .Values.chroma.port) -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.consolePods" -}}
{{- if .Values.console.enabled -}}{{ int .Values.console.replicas }}{{- else -}}0{{- end -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds: the preStop pause, then SHUTDOWN_GRACE_SECONDS for in-flight
requests, then time for the background writers to flush and the cache and clients to close.
*/}}
{{- define "gatehouse.terminationGrace" -}}
{{- $grace := .Values.config.SHUTDOWN_GRACE_SECONDS | default 20 | float64 | ceil | int -}}
{{- add $grace (int .Values.preStopSleepSeconds) (int .Values.shutdownFlushSeconds) -}}
{{- end -}}

{{/*
Refuse combinations that would lose or corrupt data. Included by every Deployment (the first
one to render stops the release with the reason).
*/}}
{{- define "gatehouse.validate" -}}
{{- $db := .Values.config.DB_PROVIDER | default "sqlite" -}}
{{- $apiPods := include "gatehouse.apiMaxPods" . | int -}}
{{- $consolePods := include "gatehouse.consolePods" . | int -}}
{{- $secrets := .Values.secrets -}}
{{- $own := not $secrets.existingSecret -}}
{{- if not (has $db (list "sqlite" "mongodb")) -}}
{{- fail (printf "config.DB_PROVIDER=%s: use sqlite or mongodb" $db) -}}
{{- end -}}
{{- $grace := .Values.config.SHUTDOWN_GRACE_SECONDS | default 20 | toString -}}
{{- if or (not (regexMatch "^[0-9]+(\\.[0-9]+)?$" $grace)) (gt ($grace | float64) 600.0) -}}
{{- fail (printf "config.SHUTDOWN_GRACE_SECONDS=%s: seconds, from 0 to 600" $grace) -}}
{{- end -}}
{{- range $key := splitList " " (include "gatehouse.secretKeys" .) -}}
{{- if hasKey $.Values.config $key -}}
{{- fail (printf "config.%s: a credential, never put in the ConfigMap; set secrets.%s (or put it in secrets.existingSecret)" $key $key) -}}
{{- end -}}
{{- end -}}
{{- if $own -}}
{{- $jwt := required "secrets.JWT_SECRET is required (32+ random characters), or set secrets.existingSecret" $secrets.JWT_SECRET -}}
{{- if lt (len $jwt) 32 -}}
{{- fail "secrets.JWT_SECRET: 32+ random characters (the gateway refuses a shorter one in production)" -}}
{{- end -}}
{{- $_ := required "secrets.ENCRYPTION_KEY is required (python -m gateway_app gen-key), or set secrets.existingSecret" $secrets.ENCRYPTION_KEY -}}
{{- end -}}
{{- if and .Values.api.autoscaling.enabled (gt (int .Values.api.autoscaling.minReplicas) (int .Values.api.autoscaling.maxReplicas)) -}}
{{- fail (printf "api.autoscaling.minReplicas=%v is above maxReplicas=%v" .Values.api.autoscaling.minReplicas .Values.api.autoscaling.maxReplicas) -}}
{{- end -}}
{{- $pods := add $apiPods $consolePods -}}
{{- $vectors := .Values.config.VECTOR_PROVIDER | default "embedded" -}}
{{- if eq $db "sqlite" -}}
{{- if and (gt $pods 1) (not .Values.singleNode) -}}
{{- fail (printf "DB_PROVIDER=sqlite with %d API pod(s) (api.replicas, or api.autoscaling.maxReplicas) and %d console pod(s): SQLite files cannot be shared by pods on several nodes (WAL needs one host). Set singleNode: true to keep every pod on one node, or use config.DB_PROVIDER=mongodb with Redis and a Chroma server (values-scale.yaml)" $apiPods $consolePods) -}}
{{- end -}}
{{- if and .Values.persistence.enabled (ne .Values.persistence.accessMode "ReadWriteOnce") -}}
{{- fail (printf "persistence.accessMode=%s with DB_PROVIDER=sqlite: use ReadWriteOnce (SQLite's WAL does not work across hosts; a volume shared between nodes corrupts it)" .Values.persistence.accessMode) -}}
{{- end -}}
{{- else -}}
{{- if $own -}}
{{- $_ := required "secrets.MONGODB_URI is required with DB_PROVIDER=mongodb" $secrets.MONGODB_URI -}}
{{- end -}}
{{- if and (gt $apiPods 1) (ne (.Values.config.CACHE_PROVIDER | default "") "redis") -}}
{{- fail (printf "%d API pods need config.CACHE_PROVIDER=redis: quotas, rate limits and token revocations are shared through Redis" $apiPods) -}}
{{- end -}}
{{- if and (gt $pods 1) (not .Values.singleNode) .Values.persistence.enabled (ne .Values.persistence.accessMode "ReadWriteMany") -}}
{{- fail (printf "%d pods on several nodes with persistence.accessMode=%s: DATA_DIR holds uploaded files every pod reads; use ReadWriteMany (no SQLite is kept there with DB_PROVIDER=mongodb), or singleNode: true" $pods .Values.persistence.accessMode) -}}
{{- end -}}
{{- end -}}
{{- if and (gt $pods 1) (not .Values.persistence.enabled) -}}
{{- fail (printf "%d pods with persistence.enabled=false: each would have a DATA_DIR of its own (databases with SQLite, uploaded files); enable the shared volume" $pods) -}}
{{- end -}}
{{- if and (gt $pods 1) (eq $vectors "embedded") -}}
{{- fail (printf "config.VECTOR_PROVIDER=embedded with %d pods (API and console): embedded Chroma files must never be opened by two processes; use config.VECTOR_PROVIDER=chroma-server (chroma.enabled: true runs one in the release)" $pods) -}}
{{- end -}}
{{- if eq $vectors "chroma-server" -}}
{{- $url := include "gatehouse.chromaUrl" . -}}
{{- if not $url -}}
{{- fail "config.CHROMA_URL is required with config.VECTOR_PROVIDER=chroma-server (or chroma.enabled: true)" -}}
{{- end -}}
{{- if not (regexMatch "^https?://" $url) -}}
{{- fail (printf "config.CHROMA_URL=%s: an http(s):// URL" $url) -}}
{{- end -}}
{{- end -}}
{{- if and (eq (.Values.config.CACHE_PROVIDER | default "") "redis") $own -}}
{{- $_ := required "secrets.REDIS_URL is required with config.CACHE_PROVIDER=redis" $secrets.REDIS_URL -}}
{{- end -}}
{{- if and (gt $consolePods 1) $own (not $secrets.REFLEX_REDIS_URL) -}}
{{- fail (printf "console.replicas=%d needs secrets.REFLEX_REDIS_URL: Reflex keeps console state in memory unless it has Redis" $consolePods) -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "gatehouse.fullname" . }}-config
  - secretRef:
      name: {{ include "gatehouse.secretName" . }}
{{- end -}}

{{/* Pod-level settings shared by both Deployments. */}}
{{- define "gatehouse.podSpec" -}}
automountServiceAccountToken: false
terminationGracePeriodSeconds: {{ include "gatehouse.terminationGrace" . }}
securityContext: {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .Values.singleNode }}
affinity:
  # The API and console pods on one node: they share DATA_DIR (SQLite files) on a ReadWriteOnce volume.
  podAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector:
          matchLabels:
            app.kubernetes.io/instance: {{ .Release.Name }}
          matchExpressions:
            - {key: app.kubernetes.io/component, operator: In, values: [api, console]}
        topologyKey: kubernetes.io/hostname
{{- end }}
volumes:
  - name: data
  {{- if .Values.persistence.enabled }}
    persistentVolumeClaim:
      claimName: {{ .Values.persistence.existingClaim | default (printf "%s-data" (include "gatehouse.fullname" .)) }}
  {{- else }}
    emptyDir: {}
  {{- end }}
  - name: tmp
    emptyDir:
      sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}

{{- define "gatehouse.volumeMounts" -}}
volumeMounts:
  - name: data
    mountPath: {{ .Values.config.DATA_DIR }}
  - name: tmp
    mountPath: /tmp
{{- end -}}

{{- define "gatehouse.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}
