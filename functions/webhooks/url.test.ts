import { describe, expect, it } from 'vitest'
import { AppError } from '../lib/errors.js'
import { retryDelayMs } from './deliverer.js'
import { checkWebhookUrl } from './url.js'

const STRICT = { allowLocalHttp: false }
const LOCAL = { allowLocalHttp: true }

function refusal(url: string, policy = STRICT): string | undefined {
  try {
    checkWebhookUrl(url, policy)
    return undefined
  } catch (error) {
    expect(error).toBeInstanceOf(AppError)
    expect((error as AppError).param).toBe('url')
    return (error as AppError).message
  }
}

describe('checkWebhookUrl', () => {
  it('accepts public https URLs, normalised', () => {
    expect(checkWebhookUrl('https://Hooks.Example.com/a?b=1', STRICT)).toBe(
      'https://hooks.example.com/a?b=1'
    )
    expect(checkWebhookUrl('https://93.184.216.34:8443/x', STRICT)).toBe(
      'https://93.184.216.34:8443/x'
    )
    expect(checkWebhookUrl('https://[2606:4700::1111]/x', STRICT)).toBe(
      'https://[2606:4700::1111]/x'
    )
  })

  it('refuses other schemes, credentials, fragments and over-long URLs', () => {
    for (const url of [
      'http://hooks.example.com/',
      'ftp://hooks.example.com/',
      'javascript:alert(1)',
      '/relative',
      'https://user:secret@hooks.example.com/',
      'https://hooks.example.com/#frag',
      `https://hooks.example.com/${'a'.repeat(2048)}`,
    ]) {
      expect(refusal(url), url).toBeDefined()
    }
  })

  it('refuses this machine, private, CGNAT and link-local addresses in any spelling', () => {
    for (const url of [
      'https://localhost/',
      'https://127.0.0.1/',
      'https://127.1/',
      'https://0x7f000001/',
      'https://2130706433/',
      'https://0.0.0.0/',
      'https://10.0.0.8/',
      'https://172.16.0.1/',
      'https://172.31.255.255/',
      'https://192.168.1.1/',
      'https://100.64.0.1/',
      'https://169.254.169.254/latest/meta-data/',
      'https://[::1]/',
      'https://[::]/',
      'https://[::ffff:127.0.0.1]/',
      'https://[fd12:3456::1]/',
      'https://[fe80::1]/',
    ]) {
      expect(refusal(url), url).toMatch(/loopback, private or link-local/)
    }
    // Just outside the private ranges.
    expect(refusal('https://172.32.0.1/')).toBeUndefined()
    expect(refusal('https://100.128.0.1/')).toBeUndefined()
  })

  it('accepts http to localhost only where the local switch is on', () => {
    for (const url of [
      'http://localhost:4000/h',
      'http://127.0.0.1:4000/h',
      'http://[::1]:4000/h',
    ]) {
      expect(refusal(url, LOCAL), url).toBeUndefined()
      expect(refusal(url, STRICT), url).toBeDefined()
    }
    expect(refusal('http://192.168.1.1/h', LOCAL)).toBeDefined()
    expect(refusal('http://hooks.example.com/h', LOCAL)).toMatch(/https/)
  })
})

describe('retryDelayMs', () => {
  it('doubles from 30 s up to 4 h, within ±20 % jitter', () => {
    const middle = Array.from({ length: 12 }, (_, i) => retryDelayMs(i + 1, () => 0.5))
    expect(middle).toEqual(
      [30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 14400, 14400, 14400].map((s) => s * 1000)
    )
    expect(retryDelayMs(1, () => 0)).toBe(24_000)
    expect(retryDelayMs(1, () => 0.999999)).toBe(36_000)
    expect(retryDelayMs(20, () => 0)).toBe(0.8 * 4 * 3600_000)
  })
})
