// Log Analytics workspace and a workspace-based Application Insights component.
// With local authentication disabled, telemetry is accepted only with a Microsoft Entra token
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING on the app + Monitoring Metrics Publisher role).

@description('Log Analytics workspace name.')
param logAnalyticsName string

@description('Application Insights component name.')
param applicationInsightsName string

@description('Azure region.')
param location string

@description('Tags applied to both resources.')
param tags object = {}

@description('Days logs are retained.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Daily ingestion cap in GB (-1 for none); a guard against runaway logging costs.')
param dailyQuotaGb int = -1

@description('Reject telemetry sent with only the instrumentation key (Entra-authenticated ingestion only).')
param disableLocalAuth bool = true

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    workspaceCapping: {
      dailyQuotaGb: dailyQuotaGb
    }
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: disableLocalAuth
    IngestionMode: 'LogAnalytics'
  }
}

output workspaceId string = workspace.id
output applicationInsightsId string = appInsights.id
output applicationInsightsName string = appInsights.name
// The connection string holds the instrumentation key and ingestion endpoint: identifiers, not
// credentials (with local auth disabled they cannot be used to send telemetry without a token).
output connectionString string = appInsights.properties.ConnectionString
