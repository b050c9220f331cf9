// Optional network isolation (main.bicep deploys this only when enableNetworkIsolation is true):
// a VNet with a subnet delegated to Flex Consumption for outbound VNet integration, a subnet for
// private endpoints, and a private endpoint + private DNS zone per data service.

@description('Virtual network name.')
param name string

@description('Azure region.')
param location string

@description('Tags applied to every networking resource.')
param tags object = {}

param addressPrefix string = '10.40.0.0/16'
param appSubnetPrefix string = '10.40.1.0/24'
param privateEndpointSubnetPrefix string = '10.40.2.0/24'

@description('Storage account id (blob and queue endpoints).')
param storageAccountId string

@description('Service Bus namespace id; empty when the tier has no private endpoint (Premium only).')
param serviceBusNamespaceId string = ''

@description('PostgreSQL flexible server id; empty when an existing server is used.')
param postgresServerId string = ''

@description('Azure OpenAI account id; empty when an existing account is used.')
param openAiAccountId string = ''

var storageSuffix = environment().suffixes.storage

// groupId: the sub-resource the private endpoint connects to.
var candidates = [
  {
    key: 'blob'
    id: storageAccountId
    groupId: 'blob'
    zone: 'privatelink.blob.${storageSuffix}'
  }
  {
    key: 'queue'
    id: storageAccountId
    groupId: 'queue'
    zone: 'privatelink.queue.${storageSuffix}'
  }
  {
    key: 'servicebus'
    id: serviceBusNamespaceId
    groupId: 'namespace'
    zone: 'privatelink.servicebus.windows.net'
  }
  {
    key: 'postgres'
    id: postgresServerId
    groupId: 'postgresqlServer'
    zone: 'privatelink.postgres.database.azure.com'
  }
  {
    key: 'openai'
    id: openAiAccountId
    groupId: 'account'
    zone: 'privatelink.openai.azure.com'
  }
]

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [for c in candidates: if (!empty(c.id)) {
  name: c.zone
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (c, i) in candidates: if (!empty(c.id)) {
  parent: zones[i]
  name: '${name}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}]

resource endpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [for c in candidates: if (!empty(c.id)) {
  name: 'pe-${c.key}-${last(split(c.id, '/'))}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: '${vnet.id}/subnets/private-endpoints'
    }
    privateLinkServiceConnections: [
      {
        name: c.key
        properties: {
          privateLinkServiceId: c.id
          groupIds: [
            c.groupId
          ]
        }
      }
    ]
  }
}]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [for (c, i) in candidates: if (!empty(c.id)) {
  parent: endpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: c.key
        properties: {
          privateDnsZoneId: zones[i].id
        }
      }
    ]
  }
}]

output vnetId string = vnet.id
output appSubnetId string = '${vnet.id}/subnets/app'
output privateEndpointSubnetId string = '${vnet.id}/subnets/private-endpoints'
