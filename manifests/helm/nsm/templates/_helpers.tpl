{{/* Prefix of every object name. */}}
{{- define "nsm.fullname" -}}
{{ .Values.fullnameOverride | default .Release.Name }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "nsm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "nsm.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nsm
{{- end }}

{{- define "nsm.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Component labels of the pods. networkservicemesh.io/component is also what the webhook
configuration's objectSelector uses to keep the API server from sending nsm's own pods.
*/}}
{{- define "nsm.webhook.componentLabels" -}}
app.kubernetes.io/component: webhook
networkservicemesh.io/component: webhook
{{- end }}

{{- define "nsm.forwarder.componentLabels" -}}
app.kubernetes.io/component: forwarder
networkservicemesh.io/component: forwarder
{{- end }}

{{- define "nsm.webhook.selectorLabels" -}}
{{ include "nsm.selectorLabels" . }}
{{ include "nsm.webhook.componentLabels" . }}
{{- end }}

{{- define "nsm.forwarder.selectorLabels" -}}
{{ include "nsm.selectorLabels" . }}
{{ include "nsm.forwarder.componentLabels" . }}
{{- end }}

{{- define "nsm.tag" -}}
{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "nsm.webhook.image" -}}
{{ printf "%s/%s:%s" .Values.image.registry .Values.webhook.image.repository (include "nsm.tag" .) }}
{{- end }}

{{- define "nsm.sidecar.image" -}}
{{ printf "%s/%s:%s" .Values.image.registry .Values.sidecar.image.repository (include "nsm.tag" .) }}
{{- end }}

{{/* Names of the Secrets that hold the webhook's and the forwarders' certificates. */}}
{{- define "nsm.webhook.tlsSecret" -}}
{{- if eq .Values.tls.mode "provided" }}
{{- .Values.tls.provided.webhookSecretName }}
{{- else }}
{{- include "nsm.fullname" . }}-webhook-tls
{{- end }}
{{- end }}

{{- define "nsm.forwarder.tlsSecret" -}}
{{- if eq .Values.tls.mode "provided" }}
{{- .Values.tls.provided.peerSecretName }}
{{- else }}
{{- include "nsm.fullname" . }}-forwarder-peer-tls
{{- end }}
{{- end }}

{{/* DNS names the webhook certificate is valid for. */}}
{{- define "nsm.webhook.dnsNames" -}}
- {{ include "nsm.fullname" . }}-webhook
- {{ include "nsm.fullname" . }}-webhook.{{ .Release.Namespace }}
- {{ include "nsm.fullname" . }}-webhook.{{ .Release.Namespace }}.svc
{{- end }}

{{/*
Name in the forwarders' peer certificate. All forwarders share one certificate and dial each other
by node IP, so peers are authenticated by the dedicated peer CA (ca.crt), not by host name.
*/}}
{{- define "nsm.forwarder.peerName" -}}
{{ include "nsm.fullname" . }}-forwarder.{{ .Release.Namespace }}
{{- end }}


{{/* Fields shared by every webhook entry. Called with (list $ $caBundle). */}}
{{- define "nsm.webhook.common" -}}
{{- $root := index . 0 }}
{{- $caBundle := index . 1 -}}
admissionReviewVersions: ["v1"]
sideEffects: None
failurePolicy: {{ $root.Values.webhook.failurePolicy }}
timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
reinvocationPolicy: {{ $root.Values.webhook.reinvocationPolicy }}
matchPolicy: Equivalent
clientConfig:
  service:
    name: {{ include "nsm.fullname" $root }}-webhook
    namespace: {{ $root.Release.Namespace }}
    path: /mutate
    port: 443
  {{- with $caBundle }}
  caBundle: {{ . }}
  {{- end }}
rules:
  - operations: ["CREATE"]
    apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["pods"]
    scope: Namespaced
objectSelector:
  matchExpressions:
    - key: networkservicemesh.io/component
      operator: NotIn
      values:
        - webhook
        - forwarder
{{- end }}
