// The examples app: `cdktf synth` at the repository root synthesizes every example stack.
import { App } from "cdktf";
import { awsExample } from "./examples/aws/main";
import { baremetalExample } from "./examples/baremetal/main";
import { gceExample } from "./examples/gce/main";

const app = new App();
awsExample(app);
gceExample(app);
baremetalExample(app);
app.synth();
