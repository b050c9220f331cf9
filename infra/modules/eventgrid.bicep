// Event Grid system topic on the storage account plus the two subscriptions that drive ingestion:
//   BlobCreated -> blob trigger `ingest_document` (blob trigger with source EventGrid; delivered as
//                  a webhook to the Functions host's `blobs` extension endpoint)
//   BlobDeleted -> Event Grid trigger `delete_document` (endpoint type AzureFunction: no key in the template)
// The subscriptions can only be created once the function code is deployed (Event Grid validates
// the endpoint, and the host creates the `blobs_extension` system key on first start), so they are
// behind `deploySubscriptions`; the azd postdeploy hook turns it on and provisions again.

@description('System topic name.')
param name string

@description('Azure region (must be the storage account\'s region).')
param location string

@description('Tags applied to the topic.')
param tags object = {}

@description('Name of the storage account whose blob events are published.')
param storageAccountName string

@description('Container whose blobs are ingested.')
param documentsContainerName string = 'documents'

@description('Container receiving events that could not be delivered.')
param deadLetterContainerName string = 'eventgrid-deadletter'

@description('Create the event subscriptions (requires the function code to be deployed).')
param deploySubscriptions bool = false

@description('Function App name (the subscriptions\' target).')
param functionAppName string

@description('Blob-triggered function that ingests documents.')
param ingestFunctionName string = 'ingest_document'

@description('Event Grid triggered function that removes deleted documents.')
param deleteFunctionName string = 'delete_document'

@description('Delivery attempts before an event is dead-lettered.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@description('Minutes Event Grid keeps retrying one event.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

var storageBlobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var subjectPrefix = '/blobServices/default/containers/${documentsContainerName}/'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  name: '${storageAccountName}/default/${deadLetterContainerName}'
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    // Used only to write undeliverable events to the dead-letter container (no storage keys).
    type: 'SystemAssigned'
  }
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource topicDeadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, topic.id, storageBlobDataContributorRoleId)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributorRoleId)
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

var deadLetter = {
  identity: {
    type: 'SystemAssigned'
  }
  deadLetterDestination: {
    endpointType: 'StorageBlob'
    properties: {
      resourceId: storage.id
      blobContainerName: deadLetterContainerName
    }
  }
}

var retryPolicy = {
  maxDeliveryAttempts: maxDeliveryAttempts
  eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
}

// The blob trigger (source EventGrid) is served by the host's `blobs` extension webhook, which
// authenticates with the host's `blobs_extension` system key. The AzureFunction endpoint type only
// reaches Event Grid triggers, so this is the one place a key is read: it is a Functions host key
// (not a storage, Service Bus or OpenAI key), resolved at deployment time and never output.
resource ingestSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (deploySubscriptions) {
  parent: topic
  name: 'ingest-documents'
  dependsOn: [
    topicDeadLetterWriter
  ]
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${functionApp.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${ingestFunctionName}&code=${listKeys('${functionApp.id}/host/default', '2024-04-01').systemKeys.blobs_extension}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: subjectPrefix
      isSubjectCaseSensitive: false
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetter
  }
}

resource deleteSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (deploySubscriptions) {
  parent: topic
  name: 'delete-documents'
  dependsOn: [
    topicDeadLetterWriter
  ]
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionApp.id}/functions/${deleteFunctionName}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobDeleted'
      ]
      subjectBeginsWith: subjectPrefix
      isSubjectCaseSensitive: false
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetter
  }
}

output id string = topic.id
output name string = topic.name
output subscriptionsDeployed bool = deploySubscriptions
