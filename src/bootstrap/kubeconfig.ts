/** kubeconfig files (clientcmd v1), e.g. the admin kubeconfig handed to the user as a sensitive output. */
import * as yaml from "js-yaml";

export interface KubeconfigInput {
  readonly clusterName: string;
  /** `https://host:port`; may contain a Terraform token (rendered verbatim). */
  readonly server: string;
  readonly caCertPem: string;
  readonly userName: string;
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

export function renderKubeconfig(input: KubeconfigInput): string {
  const context = `${input.userName}@${input.clusterName}`;
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: input.clusterName, cluster: { server: input.server, "certificate-authority-data": b64(input.caCertPem) } }],
    users: [{ name: input.userName, user: { "client-certificate-data": b64(input.clientCertPem), "client-key-data": b64(input.clientKeyPem) } }],
    contexts: [{ name: context, context: { cluster: input.clusterName, user: input.userName } }],
    "current-context": context,
    preferences: {},
  };
  // lineWidth -1: never fold the long base64 values.
  return yaml.dump(doc, { lineWidth: -1, noRefs: true });
}
