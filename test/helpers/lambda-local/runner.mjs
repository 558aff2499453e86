// Runs one built Lambda asset in this bare Node process the way the Lambda runtime does:
// import the handler module once (the init phase), then call the handler for each event sent
// over IPC. Reports how long the import and each invocation took, in wall-clock and in CPU time
// of the process (all its threads), the latter being steadier on a shared machine.
import { pathToFileURL } from 'node:url'

const [file, exportName] = process.argv.slice(2)
const started = performance.now()
const startedCpu = process.cpuUsage()
const cpuMs = (since) => {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1000
}
let handler
try {
  const module = await import(pathToFileURL(file).href)
  handler = module[exportName]
  if (typeof handler !== 'function') throw new Error(`${file} does not export ${exportName}`)
} catch (error) {
  process.send({ type: 'init-error', error: String(error?.stack ?? error) })
  process.exit(1)
}
process.send({ type: 'ready', initMs: performance.now() - started, initCpuMs: cpuMs(startedCpu) })

function context(id) {
  const deadline = Date.now() + 30_000
  const name = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'local'
  return {
    awsRequestId: id,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:123456789012:function:${name}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '1024',
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  }
}

process.on('message', async (message) => {
  if (message.type !== 'invoke') return
  const invoked = performance.now()
  const invokedCpu = process.cpuUsage()
  try {
    const result = await handler(message.event, context(message.id))
    process.send({
      type: 'result',
      id: message.id,
      result,
      ms: performance.now() - invoked,
      cpuMs: cpuMs(invokedCpu),
    })
  } catch (error) {
    process.send({
      type: 'error',
      id: message.id,
      error: String(error?.stack ?? error),
      ms: performance.now() - invoked,
    })
  }
})
