// ragworker: Azure Functions (Flex Consumption, Python) + PostgreSQL/pgvector + Azure OpenAI,
// wired keyless with one user-assigned managed identity. azd convention: subscription scope,
// one resource group `rg-<environmentName>`.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; used for the resource group name and the resource name token.')
param environmentName string

@minLength(1)
@description('Region for every resource.')
param location string

@description('Object id of the deploying user or service principal (azd: AZURE_PRINCIPAL_ID). Gets data-plane roles for keyless local runs and becomes the PostgreSQL Entra administrator.')
param principalId string = ''

@description('Kind of deploying principal.')
@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('Name of the deploying principal for PostgreSQL: user principal name for a user, display name for a service principal (set by the azd preprovision hook).')
param principalName string = ''

@description('Put storage, PostgreSQL, Azure OpenAI (and Service Bus on Premium) behind private endpoints and integrate the app with a VNet.')
param enableNetworkIsolation bool = false

@description('Create the Event Grid subscriptions. They need the function code deployed first; the azd postdeploy hook sets this and provisions again.')
param deployEventSubscriptions bool = false

// --- Azure OpenAI -------------------------------------------------------------------------------
@description('Resource id of an existing Azure OpenAI account to use instead of creating one.')
param existingOpenAiResourceId string = ''

@description('Region for a new Azure OpenAI account (model availability differs per region); empty: same as location.')
param openAiLocation string = ''

param openAiApiVersion string = '2024-10-21'
param chatDeploymentName string = 'gpt-4o'
param chatModelVersion string = '2024-11-20'
@description('Chat capacity, thousands of tokens per minute.')
param chatCapacity int = 30
param classificationDeploymentName string = 'gpt-4o-mini'
param classificationModelVersion string = '2024-07-18'
@description('Classification capacity, thousands of tokens per minute.')
param classificationCapacity int = 30
param embeddingDeploymentName string = 'text-embedding-3-small'
@description('Embedding capacity, thousands of tokens per minute.')
param embeddingCapacity int = 120
param embeddingDimensions int = 1536

// --- PostgreSQL ---------------------------------------------------------------------------------
@description('Host name of an existing PostgreSQL flexible server to use instead of creating one (Entra auth enabled, VECTOR allow-listed, database present).')
param existingPostgresFqdn string = ''

param postgresDatabaseName string = 'ragworker'
param postgresSkuName string = 'Standard_B1ms'
@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = 'Burstable'
param postgresStorageSizeGB int = 32

// --- messaging, storage, app -----------------------------------------------------------------
@allowed([
  'Basic'
  'Standard'
  'Premium'
])
param serviceBusSku string = 'Standard'
param ticketsQueueName string = 'tickets'
param documentsContainerName string = 'documents'
param deploymentContainerName string = 'deploymentpackage'
param maximumInstanceCount int = 40
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Reject Application Insights telemetry that is not Entra-authenticated.')
param appInsightsDisableLocalAuth bool = true

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var useExistingOpenAi = !empty(existingOpenAiResourceId)
var useExistingPostgres = !empty(existingPostgresFqdn)
var openAiIdParts = split(existingOpenAiResourceId, '/')
var identityName = 'id-ragworker-${resourceToken}'
var functionAppName = 'func-ragworker-${resourceToken}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: identityName
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    disableLocalAuth: appInsightsDisableLocalAuth
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    documentsContainerName: documentsContainerName
    enableNetworkIsolation: enableNetworkIsolation
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: 'sb-${resourceToken}'
    location: location
    tags: tags
    skuName: serviceBusSku
    queueName: ticketsQueueName
    enableNetworkIsolation: enableNetworkIsolation
  }
}

module postgres 'modules/postgres.bicep' = if (!useExistingPostgres) {
  name: 'postgres'
  scope: rg
  params: {
    name: 'psql-${resourceToken}'
    location: location
    tags: tags
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    storageSizeGB: postgresStorageSizeGB
    databaseName: postgresDatabaseName
    administratorObjectId: principalId
    administratorName: principalName
    administratorType: principalType
    enableNetworkIsolation: enableNetworkIsolation
  }
}

module openAi 'modules/openai.bicep' = if (!useExistingOpenAi) {
  name: 'openai'
  scope: rg
  params: {
    name: 'oai-${resourceToken}'
    location: empty(openAiLocation) ? location : openAiLocation
    tags: tags
    enableNetworkIsolation: enableNetworkIsolation
    chatDeploymentName: chatDeploymentName
    chatModelVersion: chatModelVersion
    chatCapacity: chatCapacity
    classificationDeploymentName: classificationDeploymentName
    classificationModelVersion: classificationModelVersion
    classificationCapacity: classificationCapacity
    embeddingDeploymentName: embeddingDeploymentName
    embeddingCapacity: embeddingCapacity
  }
}

// The endpoint is read from the account itself (new or existing) by openai-roles.bicep.
var openAiEndpoint = openAiRoles.outputs.endpoint
var postgresFqdn = useExistingPostgres ? existingPostgresFqdn : postgres.outputs.fqdn

module network 'modules/network.bicep' = if (enableNetworkIsolation) {
  name: 'network'
  scope: rg
  params: {
    name: 'vnet-${resourceToken}'
    location: location
    tags: tags
    storageAccountId: storage.outputs.id
    serviceBusNamespaceId: serviceBus.outputs.isolated ? serviceBus.outputs.id : ''
    postgresServerId: useExistingPostgres ? '' : postgres.outputs.id
    openAiAccountId: useExistingOpenAi ? '' : openAi.outputs.id
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    serviceName: 'api'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityName: identity.outputs.name
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    documentsContainerName: documentsContainerName
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    ticketsQueueName: ticketsQueueName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    openAiEndpoint: openAiEndpoint
    openAiApiVersion: openAiApiVersion
    chatDeploymentName: chatDeploymentName
    classificationDeploymentName: classificationDeploymentName
    embeddingDeploymentName: embeddingDeploymentName
    embeddingDimensions: embeddingDimensions
    postgresFqdn: postgresFqdn
    postgresDatabaseName: postgresDatabaseName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    virtualNetworkSubnetId: enableNetworkIsolation ? network.outputs.appSubnetId : ''
  }
  dependsOn: [
    // The host reads its storage and deployment package as the identity: grant before start.
    roles
  ]
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  scope: rg
  params: {
    identityPrincipalId: identity.outputs.principalId
    developerPrincipalId: principalId
    developerPrincipalType: principalType
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module openAiRoles 'modules/openai-roles.bicep' = {
  name: 'openai-roles'
  scope: resourceGroup(useExistingOpenAi ? openAiIdParts[2] : subscription().subscriptionId, useExistingOpenAi ? openAiIdParts[4] : rg.name)
  params: {
    openAiAccountName: useExistingOpenAi ? openAiIdParts[8] : openAi.outputs.name
    identityPrincipalId: identity.outputs.principalId
    developerPrincipalId: principalId
    developerPrincipalType: principalType
  }
}

module eventGrid 'modules/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: rg
  params: {
    name: 'evgt-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    documentsContainerName: documentsContainerName
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    functionAppName: functionApp.outputs.name
    deploySubscriptions: deployEventSubscriptions
  }
}

// --- outputs (azd writes them to the environment's .env) ---------------------------------------
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_MANAGED_IDENTITY_NAME string = identity.outputs.name
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_OPENAI_ENDPOINT string = openAiEndpoint
output AZURE_OPENAI_API_VERSION string = openAiApiVersion
output CHAT_DEPLOYMENT string = chatDeploymentName
output CLASSIFICATION_DEPLOYMENT string = classificationDeploymentName
output EMBEDDING_DEPLOYMENT string = embeddingDeploymentName
output EMBEDDING_DIMENSIONS int = embeddingDimensions
output POSTGRES_SERVER_FQDN string = postgresFqdn
output POSTGRES_DATABASE string = postgresDatabaseName
output DATABASE_URL string = 'postgresql://${identity.outputs.name}@${postgresFqdn}:5432/${postgresDatabaseName}?sslmode=require'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output DOCUMENTS_STORAGE_BLOB_URI string = storage.outputs.blobEndpoint
output DOCUMENTS_CONTAINER string = documentsContainerName
output SERVICEBUS_NAMESPACE_FQDN string = serviceBus.outputs.fullyQualifiedNamespace
output TICKETS_QUEUE string = ticketsQueueName
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
output EVENTGRID_SYSTEM_TOPIC_NAME string = eventGrid.outputs.name
output EVENT_SUBSCRIPTIONS_DEPLOYED bool = eventGrid.outputs.subscriptionsDeployed
output NETWORK_ISOLATION_ENABLED bool = enableNetworkIsolation
