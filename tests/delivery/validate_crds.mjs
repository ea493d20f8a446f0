// Validate custom resources with their published models; exit 1 listing every invalid one.
// Usage: node validate_crds.mjs < documents.json   (a JSON array of manifests)
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";

const models = { HTTPRoute, ServiceMonitor, PrometheusRule };
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const problems = [];
for (const doc of JSON.parse(Buffer.concat(chunks).toString())) {
  const Model = models[doc.kind];
  if (!Model) { problems.push(`${doc.kind}: no model`); continue; }
  try { new Model(doc).validate(); } catch (error) { problems.push(`${doc.kind}/${doc.metadata?.name}: ${error.message}`); }
}
if (problems.length) { console.error(problems.join("\n")); process.exit(1); }
console.log("ok");
