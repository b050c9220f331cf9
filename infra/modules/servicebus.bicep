// Service Bus namespace and the `tickets` queue. Local (SAS) authentication is disabled:
// senders and receivers use Microsoft Entra ID with the Data Sender / Data Receiver roles.

@description('Namespace name (globally unique).')
param name string

@description('Azure region.')
param location string

@description('Tags applied to the namespace.')
param tags object = {}

@description('Namespace tier. Premium is needed for a private endpoint.')
@allowed([
  'Basic'
  'Standard'
  'Premium'
])
param skuName string = 'Standard'

@description('Queue receiving tickets to classify.')
param queueName string = 'tickets'

@description('When true and the tier is Premium, public network access is disabled (private endpoint only).')
param enableNetworkIsolation bool = false

var isolated = enableNetworkIsolation && skuName == 'Premium'

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: skuName == 'Premium' ? {
    name: skuName
    tier: skuName
    capacity: 1
  } : {
    name: skuName
    tier: skuName
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: isolated ? 'Disabled' : 'Enabled'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: queueName
  properties: {
    // A classification can take a while (model retries); the message lock must outlast it.
    lockDuration: 'PT5M'
    maxDeliveryCount: 5
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P14D'
    maxSizeInMegabytes: 1024
    enableBatchedOperations: true
  }
}

output id string = namespace.id
output name string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output queueName string = queue.name
output isolated bool = isolated
