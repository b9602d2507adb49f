{{/* Name of the chart. */}}
{{- define "botfleet.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name: the release name when it already contains the chart name. */}}
{{- define "botfleet.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "botfleet.operatorName" -}}
{{- printf "%s-operator" (include "botfleet.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "botfleet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: botfleet
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{ include "botfleet.selectorLabels" . }}
{{- end -}}

{{- define "botfleet.selectorLabels" -}}
app.kubernetes.io/name: botfleet-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "botfleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "botfleet.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "botfleet.signingKeySecret" -}}
{{- default (printf "%s-signing-key" (include "botfleet.fullname" .)) .Values.signingKey.existingSecret -}}
{{- end -}}

{{- define "botfleet.operatorImage" -}}
{{- printf "%s:%s" .Values.operator.image.repository (default .Chart.AppVersion .Values.operator.image.tag) -}}
{{- end -}}

{{- define "botfleet.engineImage" -}}
{{- printf "%s:%s" .Values.engine.image.repository (default .Chart.AppVersion .Values.engine.image.tag) -}}
{{- end -}}

{{/* Leader election: asked for, or forced by more than one replica. */}}
{{- define "botfleet.leaderElect" -}}
{{- if or .Values.operator.leaderElection.enabled (gt (int .Values.operator.replicas) 1) -}}
true
{{- else -}}
false
{{- end -}}
{{- end -}}

{{/* The webhook's Service and its serving-certificate Secret. */}}
{{- define "botfleet.webhookService" -}}
{{- printf "%s-webhook" (include "botfleet.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "botfleet.webhookSecret" -}}
{{- printf "%s-webhook-tls" (include "botfleet.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
