// Azure Database for PostgreSQL flexible server with Microsoft Entra authentication only
// (password authentication disabled), the `ragworker` database and pgvector allow-listed.
// The deploying principal becomes the Entra administrator; the app's managed identity gets an
// ordinary (non-admin) role created by the postprovision hook.

@description('Server name (globally unique).')
param name string

@description('Azure region.')
param location string

@description('Tags applied to the server.')
param tags object = {}

@description('PostgreSQL major version.')
@allowed([
  '16'
  '17'
])
param version string = '16'

@description('Compute SKU name.')
param skuName string = 'Standard_B1ms'

@description('Compute tier matching skuName.')
@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param skuTier string = 'Burstable'

@description('Provisioned storage in GB.')
@minValue(32)
param storageSizeGB int = 32

@description('Backup retention in days.')
@minValue(7)
@maxValue(35)
param backupRetentionDays int = 7

@description('Database created for the app.')
param databaseName string = 'ragworker'

@description('Object id of the Entra administrator (the deploying user or service principal). Empty: no administrator is added.')
param administratorObjectId string = ''

@description('Name of the Entra administrator: a user principal name, or a service principal\'s display name.')
param administratorName string = ''

@description('Kind of Entra administrator.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param administratorType string = 'User'

@description('When true, public network access is disabled (reach the server through its private endpoint).')
param enableNetworkIsolation bool = false

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: tenant().tenantId
    }
    storage: {
      storageSizeGB: storageSizeGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: backupRetentionDays
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: enableNetworkIsolation ? 'Disabled' : 'Enabled'
    }
  }
}

// Flexible server accepts one management operation at a time: the child resources are chained.
resource extensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'azure.extensions'
  properties: {
    value: 'VECTOR'
    source: 'user-override'
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  dependsOn: [
    extensions
  ]
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

resource administrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = if (!empty(administratorObjectId) && !empty(administratorName)) {
  parent: server
  name: administratorObjectId
  dependsOn: [
    database
  ]
  properties: {
    principalName: administratorName
    principalType: administratorType
    tenantId: tenant().tenantId
  }
}

// 0.0.0.0 - 0.0.0.0 is the documented "allow public access from any Azure service" rule: the
// Flex Consumption app has no fixed outbound addresses unless it is VNet-integrated.
resource allowAzureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (!enableNetworkIsolation) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  dependsOn: [
    administrator
  ]
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

output id string = server.id
output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
