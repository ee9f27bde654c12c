/**
 * Launch template of a node group: image, instance type, the role's user data, IMDSv2 only with
 * hop limit 1 (pods cannot reach instance credentials or user data), encrypted gp3 root volume,
 * no public address, no SSH key unless asked, tags on instances, volumes and network interfaces.
 */
import { Construct } from "constructs";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import { fitName, NAME_LIMITS } from "./names";
import type { ResolvedRootVolume } from "./resolve-aws";

export interface NodeLaunchTemplateProps {
  /** Launch template name, e.g. "prod-cp-0". */
  readonly name: string;
  readonly instanceType: string;
  readonly imageId: string;
  readonly rootDeviceName: string;
  readonly rootVolume: ResolvedRootVolume;
  readonly securityGroupIds: string[];
  readonly instanceProfileArn: string;
  /** base64 of the gzipped cloud-config (literal or a Terraform expression). */
  readonly userDataBase64: string;
  readonly keyName?: string;
  /** Tags of the template itself. */
  readonly tags: Record<string, string>;
  /** Tags of the instances, volumes and network interfaces it launches. */
  readonly instanceTags: Record<string, string>;
  readonly description: string;
}

/** The metadata options every node gets. */
export const IMDS_V2_ONLY = {
  httpEndpoint: "enabled",
  httpTokens: "required",
  httpPutResponseHopLimit: 1,
  instanceMetadataTags: "disabled",
} as const;

export class NodeLaunchTemplate extends Construct {
  readonly launchTemplate: LaunchTemplate;

  constructor(scope: Construct, id: string, props: NodeLaunchTemplateProps) {
    super(scope, id);
    const v = props.rootVolume;
    this.launchTemplate = new LaunchTemplate(this, "template", {
      name: fitName(props.name, NAME_LIMITS.launchTemplate),
      description: props.description,
      imageId: props.imageId,
      instanceType: props.instanceType,
      keyName: props.keyName,
      userData: props.userDataBase64,
      updateDefaultVersion: true,
      // Never a public address, even in a subnet that maps them on launch (nodes egress through NAT).
      networkInterfaces: [{ deviceIndex: 0, associatePublicIpAddress: "false", deleteOnTermination: "true", securityGroups: props.securityGroupIds }],
      iamInstanceProfile: { arn: props.instanceProfileArn },
      metadataOptions: { ...IMDS_V2_ONLY },
      blockDeviceMappings: [
        {
          deviceName: props.rootDeviceName,
          ebs: {
            volumeSize: v.sizeGiB,
            volumeType: "gp3",
            iops: v.iops,
            throughput: v.throughput,
            encrypted: "true",
            kmsKeyId: v.kmsKeyId,
            deleteOnTermination: "true",
          },
        },
      ],
      tagSpecifications: ["instance", "volume", "network-interface"].map((resourceType) => ({ resourceType, tags: props.instanceTags })),
      tags: props.tags,
    });
  }
}
