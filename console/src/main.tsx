import { render } from 'preact'
import { useEffect, useMemo, useState } from 'preact/hooks'
import { type AdminAction, apiClient, ok, type Session, UNAUTHENTICATED } from './api'
import { ADMIN_SECTIONS, AdminPage } from './pages/admin'
import { BudgetsPage } from './pages/budgets'
import { OverviewPage } from './pages/overview'
import { UsagePage } from './pages/usage'
import { Ctx, storedKey } from './session'
import { ErrorNote, Field, value } from './ui'

function useHash(): string {
  const [hash, setHash] = useState(location.hash)
  useEffect(() => {
    const onChange = () => setHash(location.hash)
    addEventListener('hashchange', onChange)
    // The hash may have changed between the first render and this effect (a link followed, or a
    // URL typed, right after signing in): that hashchange fired before anyone listened.
    onChange()
    return () => removeEventListener('hashchange', onChange)
  }, [])
  return hash.replace(/^#\/?/, '')
}

function SignIn(props: { onSignedIn: (key: string, session: Session) => void; error?: unknown }) {
  const [key, setKey] = useState('')
  const [error, setError] = useState<unknown>(props.error)
  const [busy, setBusy] = useState(false)
  const submit = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    setError(undefined)
    try {
      const session = await ok(apiClient(key.trim()).GET('/v1/me'))
      props.onSignedIn(key.trim(), session)
    } catch (caught) {
      setError(caught)
    } finally {
      setBusy(false)
    }
  }
  return (
    <main id="main" class="signin">
      <h1>Admin console</h1>
      <form onSubmit={submit} class="card">
        <Field
          label="Admin key"
          hint="Kept in this tab's session storage only; closing the tab signs you out."
        >
          <input
            type="password"
            name="admin-key"
            autoComplete="off"
            required
            pattern="adm_.+"
            title="An admin key starts with adm_"
            value={key}
            onInput={(event) => setKey(value(event))}
          />
        </Field>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ErrorNote error={error} />
      </form>
    </main>
  )
}

const PAGES: { path: string; label: string; needs: AdminAction }[] = [
  { path: 'overview', label: 'Overview', needs: 'read_budgets' },
  { path: 'usage', label: 'Usage & costs', needs: 'read_usage_reports' },
  { path: 'budgets', label: 'Budgets & limits', needs: 'read_budgets' },
  ...ADMIN_SECTIONS.map((section) => ({
    path: `admin/${section.path}`,
    label: section.label,
    needs: section.needs,
  })),
]

function Shell(props: { keyValue: string; session: Session; onSignOut: () => void }) {
  const hash = useHash()
  const context = useMemo(() => {
    const allowed = new Set(props.session.allowed_actions)
    return {
      client: apiClient(props.keyValue),
      session: props.session,
      can: (action: Session['allowed_actions'][number]) => allowed.has(action),
    }
  }, [props.keyValue, props.session])
  const pages = PAGES.filter((item) => context.can(item.needs))
  // No page named: the first one this key may read.
  const route = hash || pages[0]?.path || 'overview'
  const page = (() => {
    if (route === 'overview') return <OverviewPage />
    if (route === 'usage') return <UsagePage />
    if (route === 'budgets') return <BudgetsPage />
    if (route.startsWith('admin/')) return <AdminPage section={route.slice('admin/'.length)} />
    return <p>No page here. Choose one from the menu.</p>
  })()
  return (
    <Ctx.Provider value={context}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <strong>{props.session.organization_name}</strong>
        <span class="muted">
          {props.session.organization_id} · roles: {props.session.org_roles.join(', ')}
        </span>
        <button type="button" onClick={props.onSignOut}>
          Sign out
        </button>
      </header>
      <div class="layout">
        <nav aria-label="Pages">
          <ul>
            {/* Only the pages this key may read (a page opened anyway shows the API's 403). */}
            {pages.map((item) => (
              <li key={item.path}>
                <a href={`#/${item.path}`} aria-current={route === item.path ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main">{page}</main>
      </div>
    </Ctx.Provider>
  )
}

function App() {
  const [state, setState] = useState<{ key: string; session: Session } | null>(null)
  const [checking, setChecking] = useState(() => storedKey.get() !== null)
  const [error, setError] = useState<unknown>()
  useEffect(() => {
    const key = storedKey.get()
    if (!key) return
    ok(apiClient(key).GET('/v1/me'))
      .then((session) => setState({ key, session }))
      .catch((caught) => {
        storedKey.clear()
        setError(caught)
      })
      .finally(() => setChecking(false))
  }, [])
  useEffect(() => {
    const signOut = () => {
      if (!storedKey.get()) return
      storedKey.clear()
      setState(null)
      setError(new Error('The key stopped working (revoked or expired): sign in again.'))
    }
    addEventListener(UNAUTHENTICATED, signOut)
    return () => removeEventListener(UNAUTHENTICATED, signOut)
  }, [])
  if (checking) return <main id="main">Checking the stored key…</main>
  if (!state) {
    return (
      <SignIn
        error={error}
        onSignedIn={(key, session) => {
          storedKey.set(key)
          setState({ key, session })
        }}
      />
    )
  }
  return (
    <Shell
      keyValue={state.key}
      session={state.session}
      onSignOut={() => {
        storedKey.clear()
        setState(null)
      }}
    />
  )
}

render(<App />, document.getElementById('app')!)
