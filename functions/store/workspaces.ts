import type { Workspace } from '../model/index.js'
import { Collection } from './collection.js'
import { keys } from './keys.js'

/** Workspaces of an organization: `ORG#o` / `WS#w`. */
export const workspaces = new Collection<Workspace>(
  'workspaces',
  keys.workspace,
  (orgId) => keys.organization(orgId).PK,
  keys.workspacePrefix
)
