// Flex Consumption plan and the Function App (Python 3.11, Linux) running as the user-assigned
// managed identity. Every app setting below is a name or an endpoint: no key, no password and no
// connection string with a secret. Identity-based connections use the `<prefix>__...` settings.

@description('Function App name (globally unique).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region.')
param location string

@description('Tags applied to the plan and the app (the app also gets the azd service tag).')
param tags object = {}

@description('azd service name (the app is tagged azd-service-name with it).')
param serviceName string = 'api'

@description('Resource id of the user-assigned managed identity.')
param identityId string

@description('Client id of the user-assigned managed identity.')
param identityClientId string

@description('Name of the user-assigned managed identity (its PostgreSQL role name).')
param identityName string

@description('Storage account used by the host, the deployment package and the documents.')
param storageAccountName string

@description('Blob endpoint of that account, e.g. https://NAME.blob.core.windows.net/.')
param storageBlobEndpoint string

@description('Container holding the deployment package.')
param deploymentContainerName string = 'deploymentpackage'

@description('Container watched for documents.')
param documentsContainerName string = 'documents'

@description('Service Bus namespace host name, e.g. NAME.servicebus.windows.net.')
param serviceBusFullyQualifiedNamespace string

@description('Queue of tickets to classify.')
param ticketsQueueName string = 'tickets'

@description('Application Insights connection string (instrumentation key and ingestion endpoint; not a credential).')
param applicationInsightsConnectionString string

@description('Azure OpenAI endpoint, e.g. https://NAME.openai.azure.com/.')
param openAiEndpoint string

@description('Azure OpenAI REST api-version.')
param openAiApiVersion string = '2024-10-21'

param chatDeploymentName string = 'gpt-4o'
param classificationDeploymentName string = 'gpt-4o-mini'
param embeddingDeploymentName string = 'text-embedding-3-small'

@description('Embedding vector size stored in PostgreSQL.')
param embeddingDimensions int = 1536

@description('PostgreSQL server host name.')
param postgresFqdn string

@description('PostgreSQL database name.')
param postgresDatabaseName string = 'ragworker'

@description('Python version.')
@allowed([
  '3.11'
])
param pythonVersion string = '3.11'

@description('Upper bound on instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per instance.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Concurrent HTTP requests per instance.')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int = 16

@description('Subnet (delegated to Microsoft.App/environments) for outbound VNet integration; empty for none.')
param virtualNetworkSubnetId string = ''

var storageSuffix = environment().suffixes.storage
var blobServiceUri = 'https://${storageAccountName}.blob.${storageSuffix}'
var queueServiceUri = 'https://${storageAccountName}.queue.${storageSuffix}'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      appSettings: [
        // Functions host storage, identity-based.
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storageAccountName
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        // Blob trigger connection "DocumentsStorage" (queue URI: poison and internal queues).
        {
          name: 'DocumentsStorage__blobServiceUri'
          value: blobServiceUri
        }
        {
          name: 'DocumentsStorage__queueServiceUri'
          value: queueServiceUri
        }
        {
          name: 'DocumentsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'DocumentsStorage__clientId'
          value: identityClientId
        }
        // Service Bus trigger / publisher connection "ServiceBusConnection".
        {
          name: 'ServiceBusConnection__fullyQualifiedNamespace'
          value: serviceBusFullyQualifiedNamespace
        }
        {
          name: 'ServiceBusConnection__credential'
          value: 'managedidentity'
        }
        {
          name: 'ServiceBusConnection__clientId'
          value: identityClientId
        }
        // Telemetry: Entra-authenticated ingestion as the managed identity.
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: applicationInsightsConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'Authorization=AAD;ClientId=${identityClientId}'
        }
        {
          name: 'PYTHON_ENABLE_INIT_INDEXING'
          value: '1'
        }
        // Read by shared.config.Settings.
        {
          name: 'RAGWORKER_ENV'
          value: 'production'
        }
        {
          name: 'MODEL_PROVIDER'
          value: 'azure'
        }
        {
          name: 'AZURE_OPENAI_ENDPOINT'
          value: openAiEndpoint
        }
        {
          name: 'AZURE_OPENAI_API_VERSION'
          value: openAiApiVersion
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        {
          name: 'CHAT_DEPLOYMENT'
          value: chatDeploymentName
        }
        {
          name: 'CLASSIFICATION_DEPLOYMENT'
          value: classificationDeploymentName
        }
        {
          name: 'EMBEDDING_DEPLOYMENT'
          value: embeddingDeploymentName
        }
        {
          name: 'EMBEDDING_DIMENSIONS'
          value: string(embeddingDimensions)
        }
        {
          // No password: the app fetches a Microsoft Entra token for each new connection.
          name: 'DATABASE_URL'
          value: 'postgresql://${identityName}@${postgresFqdn}:5432/${postgresDatabaseName}?sslmode=require'
        }
        {
          name: 'DOCUMENTS_CONTAINER'
          value: documentsContainerName
        }
        {
          name: 'TICKETS_QUEUE'
          value: ticketsQueueName
        }
      ]
    }
  }
}

// Deployments authenticate with Microsoft Entra ID; publishing profiles (basic auth) are off.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

output id string = app.id
output name string = app.name
output defaultHostName string = app.properties.defaultHostName
output planId string = plan.id
