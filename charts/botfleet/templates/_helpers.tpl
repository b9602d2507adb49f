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

{{/* The operator's rules on namespaced objects (a ClusterRole, or a Role per watched namespace). */}}
{{- define "botfleet.operatorNamespacedRules" }}
  # The bots: read, add/remove the finalizer, record the capital interval, write status.
  - apiGroups: ["botfleet.dev"]
    resources: ["tradingbots"]
    verbs: ["get", "list", "watch", "patch", "update"]
  - apiGroups: ["botfleet.dev"]
    resources: ["tradingbots/status"]
    verbs: ["get", "patch", "update"]
  - apiGroups: ["botfleet.dev"]
    resources: ["tradingbots/finalizers"]
    verbs: ["update"]
  # What bots reference, and the approvals that name them: read only.
  - apiGroups: ["botfleet.dev"]
    resources: ["strategies", "riskpolicies", "phaseapprovals"]
    verbs: ["get", "list", "watch"]
  # Each bot's workload, owned by the bot and server-side applied.
  - apiGroups: [""]
    resources: ["configmaps", "services", "serviceaccounts"]
    verbs: ["get", "list", "watch", "create", "patch", "update"]
  - apiGroups: ["apps"]
    resources: ["statefulsets"]
    verbs: ["get", "list", "watch", "create", "patch", "update"]
  # Each engine pod's NetworkPolicy, owned by the bot.
  - apiGroups: ["networking.k8s.io"]
    resources: ["networkpolicies"]
    verbs: ["get", "list", "watch", "create", "patch", "update"]
  # Engine pods: their IPs are where /status is polled.
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get", "list", "watch"]
  # Events on transitions.
  - apiGroups: ["events.k8s.io"]
    resources: ["events"]
    verbs: ["create", "patch"]
  # Who may approve: the webhook asks about a PhaseApproval's creator, the
  # reconcile about its recorded approver before the approval is used.
  - apiGroups: ["authorization.k8s.io"]
    resources: ["localsubjectaccessreviews"]
    verbs: ["create"]
{{- end -}}

{{/* Leader election (the ClusterRole, or a Role in the release namespace). */}}
{{- define "botfleet.operatorLeaseRule" }}
  # Leader election.
  - apiGroups: ["coordination.k8s.io"]
    resources: ["leases"]
    verbs: ["get", "list", "watch", "create", "patch", "update"]
{{- end -}}
