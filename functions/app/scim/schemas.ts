/**
 * SCIM 2.0 (RFC 7643/7644) constants and the discovery documents: what this service provider
 * supports, its resource types and the schemas of its Users and Groups. These documents are the
 * SCIM description of /scim/v2 (as /openapi.json is of /v1).
 */

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8'

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User'
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group'
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse'
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp'
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error'
const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'
const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType'
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema'

/** At most this many resources in one response (`filter.maxResults`); larger counts are cut. */
export const MAX_RESULTS = 200
/** The page size when a request names no `count`. */
export const DEFAULT_COUNT = 100
/**
 * Lists and filters that no key answers read the organization's members or groups in one
 * pass; above this many, such a request is refused (400 tooMany) and should filter by
 * userName, externalId, emails.value or id (Users) or displayName, externalId or id (Groups).
 */
export const MAX_SCAN = 10_000

interface AttributeSpec {
  name: string
  type: 'string' | 'boolean' | 'complex' | 'reference' | 'dateTime'
  multiValued?: boolean
  description: string
  required?: boolean
  caseExact?: boolean
  mutability?: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly'
  returned?: 'always' | 'default' | 'never' | 'request'
  uniqueness?: 'none' | 'server' | 'global'
  referenceTypes?: string[]
  subAttributes?: AttributeSpec[]
}

/** Fills in RFC 7643 §7's defaults so every attribute states each characteristic. */
function attribute(spec: AttributeSpec): Record<string, unknown> {
  return {
    name: spec.name,
    type: spec.type,
    multiValued: spec.multiValued ?? false,
    description: spec.description,
    required: spec.required ?? false,
    ...(spec.type === 'string' || spec.type === 'reference'
      ? { caseExact: spec.caseExact ?? false }
      : {}),
    mutability: spec.mutability ?? 'readWrite',
    returned: spec.returned ?? 'default',
    uniqueness: spec.uniqueness ?? 'none',
    ...(spec.referenceTypes ? { referenceTypes: spec.referenceTypes } : {}),
    ...(spec.subAttributes ? { subAttributes: spec.subAttributes.map(attribute) } : {}),
  }
}

const USER_ATTRIBUTES: AttributeSpec[] = [
  {
    name: 'userName',
    type: 'string',
    required: true,
    uniqueness: 'server',
    description: "The member's email address; unique in the organization regardless of case.",
  },
  {
    name: 'name',
    type: 'complex',
    description: "The member's name.",
    subAttributes: [
      {
        name: 'formatted',
        type: 'string',
        description:
          'The full name (given and family name); used as displayName when none is sent.',
      },
      { name: 'familyName', type: 'string', description: 'Family name.' },
      { name: 'givenName', type: 'string', description: 'Given name.' },
    ],
  },
  {
    name: 'displayName',
    type: 'string',
    description: "The member's name as shown in the Admin Panel (the Admin API's `name`).",
  },
  {
    name: 'emails',
    type: 'complex',
    multiValued: true,
    mutability: 'readOnly',
    description:
      "The member's one email address, which is their userName (derived; not stored apart).",
    subAttributes: [
      { name: 'value', type: 'string', mutability: 'readOnly', description: 'Email address.' },
      { name: 'type', type: 'string', mutability: 'readOnly', description: 'Always "work".' },
      { name: 'primary', type: 'boolean', mutability: 'readOnly', description: 'Always true.' },
    ],
  },
  {
    name: 'active',
    type: 'boolean',
    description:
      'false deactivates the member: every product decision for them is a deny until true again.',
  },
  {
    name: 'groups',
    type: 'complex',
    multiValued: true,
    mutability: 'readOnly',
    description: 'Groups the member is directly in (change them through /Groups).',
    subAttributes: [
      { name: 'value', type: 'string', mutability: 'readOnly', description: 'Group id.' },
      {
        name: '$ref',
        type: 'reference',
        referenceTypes: ['Group'],
        mutability: 'readOnly',
        description: 'Group URI.',
      },
      { name: 'display', type: 'string', mutability: 'readOnly', description: 'Group name.' },
    ],
  },
]

/** The enterprise extension's attributes kept for a member (returned as sent). */
export const ENTERPRISE_STRING_ATTRIBUTES = [
  'employeeNumber',
  'costCenter',
  'organization',
  'division',
  'department',
] as const

const ENTERPRISE_ATTRIBUTES: AttributeSpec[] = [
  ...ENTERPRISE_STRING_ATTRIBUTES.map(
    (name): AttributeSpec => ({ name, type: 'string', description: `The member's ${name}.` })
  ),
  {
    name: 'manager',
    type: 'complex',
    description: "The member's manager.",
    subAttributes: [
      { name: 'value', type: 'string', description: "The manager's id." },
      {
        name: 'displayName',
        type: 'string',
        mutability: 'readOnly',
        description: "The manager's name.",
      },
    ],
  },
]

const GROUP_ATTRIBUTES: AttributeSpec[] = [
  {
    name: 'displayName',
    type: 'string',
    required: true,
    uniqueness: 'server',
    description: "The group's name; unique in the organization regardless of case.",
  },
  {
    name: 'members',
    type: 'complex',
    multiValued: true,
    description: 'Direct members of the group (users). Nested groups are not exposed through SCIM.',
    subAttributes: [
      {
        name: 'value',
        type: 'string',
        mutability: 'immutable',
        caseExact: true,
        description: 'Member (User) id.',
      },
      {
        name: '$ref',
        type: 'reference',
        referenceTypes: ['User'],
        mutability: 'immutable',
        description: 'User URI.',
      },
      { name: 'display', type: 'string', mutability: 'readOnly', description: "Member's name." },
      { name: 'type', type: 'string', mutability: 'immutable', description: 'Always "User".' },
    ],
  },
]

const meta = (base: string, resourceType: string, path: string) => ({
  resourceType,
  location: `${base}/${path}`,
})

export function serviceProviderConfig(base: string) {
  return {
    schemas: [SPC_SCHEMA],
    documentationUri: 'https://www.rfc-editor.org/rfc/rfc7644',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description:
          'Authorization: Bearer <SCIM token>, a token created with POST /v1/scim-tokens for one organization.',
        specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
        primary: true,
      },
    ],
    meta: meta(base, 'ServiceProviderConfig', 'ServiceProviderConfig'),
  }
}

export function resourceTypes(base: string) {
  return [
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'A member of the organization',
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_SCHEMA, required: false }],
      meta: meta(base, 'ResourceType', 'ResourceTypes/User'),
    },
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'A group of the organization',
      schema: GROUP_SCHEMA,
      schemaExtensions: [],
      meta: meta(base, 'ResourceType', 'ResourceTypes/Group'),
    },
  ]
}

export function schemaDefinitions(base: string) {
  const definition = (id: string, name: string, description: string, attrs: AttributeSpec[]) => ({
    schemas: [SCHEMA_SCHEMA],
    id,
    name,
    description,
    attributes: attrs.map(attribute),
    meta: meta(base, 'Schema', `Schemas/${id}`),
  })
  return [
    definition(USER_SCHEMA, 'User', 'A member of the organization', USER_ATTRIBUTES),
    definition(
      ENTERPRISE_SCHEMA,
      'EnterpriseUser',
      'Enterprise attributes of a member',
      ENTERPRISE_ATTRIBUTES
    ),
    definition(GROUP_SCHEMA, 'Group', 'A group of the organization', GROUP_ATTRIBUTES),
  ]
}

/** A ListResponse (RFC 7644 §3.4.2): paging fields are integers; Resources even when empty. */
export function listResponse(resources: unknown[], totalResults: number, startIndex: number) {
  return {
    schemas: [LIST_SCHEMA],
    totalResults,
    startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  }
}
