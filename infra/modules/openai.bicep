// Azure OpenAI account (keys disabled: callers need the Cognitive Services OpenAI User role)
// with the three model deployments the app uses. Deployments on one account are created one
// after another; the service rejects concurrent deployment operations.

@description('Account name; also the custom subdomain of the endpoint.')
param name string

@description('Azure region (must offer the chosen models and SKUs).')
param location string

@description('Tags applied to the account.')
param tags object = {}

@description('When true, public network access is disabled (private endpoint only).')
param enableNetworkIsolation bool = false

@description('Chat deployment (answers).')
param chatDeploymentName string = 'gpt-4o'
param chatModelName string = 'gpt-4o'
param chatModelVersion string = '2024-11-20'
param chatSkuName string = 'GlobalStandard'
@description('Chat capacity in thousands of tokens per minute.')
@minValue(1)
param chatCapacity int = 30

@description('Classification deployment (tickets).')
param classificationDeploymentName string = 'gpt-4o-mini'
param classificationModelName string = 'gpt-4o-mini'
param classificationModelVersion string = '2024-07-18'
param classificationSkuName string = 'GlobalStandard'
@description('Classification capacity in thousands of tokens per minute.')
@minValue(1)
param classificationCapacity int = 30

@description('Embedding deployment.')
param embeddingDeploymentName string = 'text-embedding-3-small'
param embeddingModelName string = 'text-embedding-3-small'
param embeddingModelVersion string = '1'
param embeddingSkuName string = 'Standard'
@description('Embedding capacity in thousands of tokens per minute.')
@minValue(1)
param embeddingCapacity int = 120

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  properties: {
    customSubDomainName: name
    disableLocalAuth: true
    publicNetworkAccess: enableNetworkIsolation ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: enableNetworkIsolation ? 'Deny' : 'Allow'
    }
  }
}

resource chat 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: chatDeploymentName
  sku: {
    name: chatSkuName
    capacity: chatCapacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: chatModelName
      version: chatModelVersion
    }
    versionUpgradeOption: 'OnceNewDefaultVersionAvailable'
  }
}

resource classification 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: classificationDeploymentName
  dependsOn: [
    chat
  ]
  sku: {
    name: classificationSkuName
    capacity: classificationCapacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: classificationModelName
      version: classificationModelVersion
    }
    versionUpgradeOption: 'OnceNewDefaultVersionAvailable'
  }
}

resource embedding 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: embeddingDeploymentName
  dependsOn: [
    classification
  ]
  sku: {
    name: embeddingSkuName
    capacity: embeddingCapacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: embeddingModelName
      version: embeddingModelVersion
    }
    versionUpgradeOption: 'OnceNewDefaultVersionAvailable'
  }
}

output id string = account.id
output name string = account.name
output endpoint string = account.properties.endpoint
output chatDeploymentName string = chat.name
output classificationDeploymentName string = classification.name
output embeddingDeploymentName string = embedding.name
