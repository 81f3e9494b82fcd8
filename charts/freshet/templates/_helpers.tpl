{{/*
Names and labels of the operator's objects.
*/}}

{{/* The operator's object names: <release>-operator, or fullnameOverride. */}}
{{- define "freshet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-operator" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The operator's ServiceAccount. */}}
{{- define "freshet.serviceAccountName" -}}
{{- default (include "freshet.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* Labels selecting the operator's pods (distinct from the StreamJobs' app.kubernetes.io/name=freshet). */}}
{{- define "freshet.selectorLabels" -}}
app.kubernetes.io/name: freshet-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels on every object of the chart. */}}
{{- define "freshet.labels" -}}
{{ include "freshet.selectorLabels" . }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: freshet
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The operator image. */}}
{{- define "freshet.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
The operator's API rights, in the namespaces it watches. Must equal
operator/src/permissions.rs OPERATOR_RULES exactly (operator/tests/chart.rs checks it).
*/}}
{{- define "freshet.operatorRules" -}}
- apiGroups: ["freshet.dev"]
  resources: ["streamjobs"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["freshet.dev"]
  resources: ["streamjobs/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["freshet.dev"]
  resources: ["streamjobs/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["configmaps", "services", "serviceaccounts"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

{{/*
The operator's own leader election on its Lease. Must equal operator/src/permissions.rs
ELECTION_RULES.
*/}}
{{- define "freshet.electionRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "update"]
{{- end -}}
