import { App } from 'aws-cdk-lib'
import { AdminEngineStack } from './stack.js'

const app = new App()
const stage = String(app.node.tryGetContext('stage') ?? 'dev')
new AdminEngineStack(app, `AdminEngine-${stage}`)
