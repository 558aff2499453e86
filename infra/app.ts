import { App } from 'aws-cdk-lib'
import { readStackConfig, stackName } from './config.js'
import { AdminEngineStack } from './stack.js'

const app = new App({ analyticsReporting: false })
const config = readStackConfig(app.node)
new AdminEngineStack(app, stackName(config.stage), {
  ...config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
})
