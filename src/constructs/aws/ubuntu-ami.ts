/**
 * The default node image: the newest Ubuntu 24.04 LTS (noble) gp3 AMI Canonical publishes, per
 * architecture, looked up at plan time. `most_recent` follows Canonical's releases: every new AMI
 * changes the launch templates (workers roll); pin `image.imageId` for change-controlled fleets.
 */
import { Construct } from "constructs";
import { DataAwsAmi } from "@cdktf/provider-aws/lib/data-aws-ami";
import { Architecture, ec2Architecture } from "./instance-types";

export interface ImageLookupProps {
  readonly architecture: Architecture;
  readonly owners: string[];
  /** `{arch}` becomes amd64 or arm64. */
  readonly namePattern: string;
}

export class ImageLookup extends Construct {
  readonly ami: DataAwsAmi;
  readonly imageId: string;
  readonly rootDeviceName: string;

  constructor(scope: Construct, id: string, props: ImageLookupProps) {
    super(scope, id);
    this.ami = new DataAwsAmi(this, "ami", {
      owners: props.owners,
      mostRecent: true,
      filter: [
        { name: "name", values: [props.namePattern.split("{arch}").join(props.architecture)] },
        { name: "architecture", values: [ec2Architecture(props.architecture)] },
        { name: "virtualization-type", values: ["hvm"] },
        { name: "root-device-type", values: ["ebs"] },
      ],
    });
    this.imageId = this.ami.id;
    this.rootDeviceName = this.ami.rootDeviceName;
  }
}
