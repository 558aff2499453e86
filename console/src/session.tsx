import { createContext } from 'preact'
import { useContext } from 'preact/hooks'
import type { AdminAction, Client, Session } from './api'

export interface ConsoleContext {
  client: Client
  session: Session
  /** Whether the policies let this key do `action` (GET /v1/me); the server still decides. */
  can: (action: AdminAction) => boolean
}

export const Ctx = createContext<ConsoleContext | null>(null)

export function useConsole(): ConsoleContext {
  const context = useContext(Ctx)
  if (!context) throw new Error('outside the signed-in console')
  return context
}

/** sessionStorage only: gone with the tab, never in a URL or cookie. */
const KEY = 'admin-console.key'

export const storedKey = {
  get: () => sessionStorage.getItem(KEY),
  set: (key: string) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
}
