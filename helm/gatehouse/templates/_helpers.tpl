{{- define "gatehouse.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "gatehouse.secretName" -}}
{{- default (printf "%s-secrets" (include "gatehouse.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "gatehouse.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "gatehouse.fullname" . }}-config
  - secretRef:
      name: {{ include "gatehouse.secretName" . }}
{{- end -}}

{{- define "gatehouse.volumes" -}}
{{- if .Values.persistence.enabled }}
volumes:
  - name: data
    persistentVolumeClaim:
      claimName: {{ include "gatehouse.fullname" . }}-data
{{- else }}
volumes:
  - name: data
    emptyDir: {}
{{- end }}
{{- end -}}
